# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::pip' do
  def global(key)
    "pip.conf [global] #{key}"
  end

  context 'with a served mirror over http' do
    let(:params) { { index_url: 'http://head1:8080/simple/' } }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_file('/etc/pip.conf').with(ensure: 'file', mode: '0644') }
    it { is_expected.to contain_ini_setting(global('index-url')).with(path: '/etc/pip.conf', section: 'global', value: 'http://head1:8080/simple/') }
    it { is_expected.to contain_ini_setting(global('trusted-host')).with_value('head1') }
    it { is_expected.to contain_ini_setting(global('no-index')).with_ensure('absent') }
    it { is_expected.to contain_ini_setting(global('find-links')).with_ensure('absent') }
  end

  context 'with a served mirror over https' do
    let(:params) { { index_url: 'https://mirror.example.org/simple/' } }

    it { is_expected.to contain_ini_setting(global('index-url')).with_value('https://mirror.example.org/simple/') }
    it { is_expected.to contain_ini_setting(global('trusted-host')).with_ensure('absent') }
  end

  context 'with a mirror folder' do
    let(:params) { { find_links: 'file:///opt/stackstorm/mirror', path: '/tmp/pip.conf' } }

    it { is_expected.to contain_ini_setting(global('no-index')).with(path: '/tmp/pip.conf', value: 'true') }
    it { is_expected.to contain_ini_setting(global('find-links')).with_value('file:///opt/stackstorm/mirror') }
    it { is_expected.to contain_ini_setting(global('index-url')).with_ensure('absent') }
    it { is_expected.to contain_ini_setting(global('trusted-host')).with_ensure('absent') }
  end

  context 'with no mirror' do
    it { is_expected.to compile.and_raise_error(%r{give either index_url .* or find_links}) }
  end

  context 'with a mirror folder that is not a file:/// URL' do
    let(:params) { { find_links: '/opt/stackstorm/mirror' } }

    it { is_expected.to compile.and_raise_error(%r{find_links}) }
  end
end
