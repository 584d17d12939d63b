# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2' do
  [['EL 9', EL9_FACTS], ['EL 8', EL8_FACTS], ['Debian 12', DEBIAN_FACTS]].each do |os, os_facts|
    context "with defaults on #{os}" do
      let(:facts) { os_facts }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_class('st2::install') }
      it { is_expected.to contain_class('st2::datastore').that_requires('Class[st2::install]') }
      it { is_expected.to contain_class('st2::config').that_requires('Class[st2::datastore]') }
      it { is_expected.to contain_class('st2::mongodb') }
      it { is_expected.to contain_class('st2::rabbitmq').with_delete_guest_user(true) }
      it { is_expected.to contain_class('st2::redis').with_manage_service(true).with_manage_package(true) }
      it { is_expected.to contain_class('st2::services') }
      it { is_expected.not_to contain_class('st2::pip') }
      it { is_expected.to contain_class('st2::config').that_notifies('Class[st2::services]') }
      it { is_expected.to contain_class('st2::datastore').that_notifies('Class[st2::services]') }
      it { is_expected.to contain_class('st2::rabbitmq').that_comes_before('Class[st2::services]') }
      it { is_expected.to contain_class('st2::redis').that_comes_before('Class[st2::services]') }
      it { is_expected.to contain_class('st2::mongodb').that_comes_before('Class[st2::services]') }
    end
  end

  context 'with no password given' do
    it 'puts no password in the catalog: each one is made and read on the host' do
      {
        ['Rabbitmq_user', 'st2', :password] => '/etc/st2/secrets/rabbitmq',
        ['Ini_setting', 'st2.conf [database] password', :value] => '/etc/st2/secrets/mongodb',
        ['File', '/etc/st2/secrets/mongodb', :content] => '/etc/st2/secrets/mongodb',
        ['File', '/etc/st2/secrets/redis', :content] => '/etc/st2/secrets/redis',
        ['File', '/etc/st2/keys/datastore_key.json', :content] => '/etc/st2/keys/datastore_key.json:crypto_key',
      }.each do |(type, title, name), source|
        expect(param(type, title, name)).to eq("host-secret:#{source}")
        expect(catalogue.resource(type, title).sensitive_parameters).to include(name)
      end
    end
  end

  context 'where the accounts live on other hosts' do
    context 'with manage_rabbitmq false' do
      let(:params) { { manage_rabbitmq: false } }

      it { is_expected.to compile.and_raise_error(%r{rabbitmq_password is required when manage_rabbitmq is false \(the RabbitMQ user is set up on another host}) }
    end

    context 'with manage_mongodb false' do
      let(:params) { { manage_mongodb: false } }

      it { is_expected.to compile.and_raise_error(%r{db_password is required when manage_mongodb is false}) }
    end

    context 'with manage_redis false' do
      let(:params) { { manage_redis: false } }

      it { is_expected.to compile.and_raise_error(%r{redis_password is required when manage_redis is false}) }
    end

    context 'with every password given' do
      let(:params) do
        {
          manage_mongodb: false, manage_rabbitmq: false, manage_redis: false,
          db_password: sensitive('db-pass-1234'), rabbitmq_password: sensitive('mq-pass-1234'),
          redis_password: sensitive('redis-pass-1234')
        }
      end

      it { is_expected.to compile.with_all_deps }
      it { is_expected.not_to contain_class('st2::mongodb') }
      it { is_expected.not_to contain_class('st2::rabbitmq') }
      it { is_expected.not_to contain_class('st2::redis') }
      it { is_expected.to contain_ini_setting('st2.conf [database] password').with_value(sensitive('db-pass-1234')) }
    end
  end

  context 'with passwords that are not Sensitive or not one token' do
    [
      ['a plain string', 'plain-string-password', false],
      ['a short one', 'short', true],
      ['one with a blank', 'has a blank', true],
      ['one with a quote', 'quote"inside', true],
    ].each do |what, value, wrapped|
      context "rabbitmq_password as #{what}" do
        let(:params) { { rabbitmq_password: wrapped ? sensitive(value) : value } }

        it { is_expected.to compile.and_raise_error(%r{rabbitmq_password}) }
      end
    end
  end

  context 'with SQLite and no Redis' do
    let(:params) { { database: 'sqlite', use_redis: false } }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.not_to contain_class('st2::mongodb') }
    it { is_expected.not_to contain_class('st2::redis') }
  end

  context 'without service management' do
    let(:params) { { manage_services: false, manage_package: false } }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.not_to contain_class('st2::services') }
    it { is_expected.not_to contain_service('st2api') }
    it { is_expected.not_to contain_package('st2') }
    it { is_expected.to contain_class('st2::redis').with_manage_service(false).with_manage_package(false) }
  end

  context 'with a mirror folder and packs' do
    let(:params) do
      {
        pip_find_links: 'file:///opt/stackstorm/mirror',
        packs: {
          'mypack' => { 'source' => 'file:///srv/packs/mypack', 'config' => { 'region' => 'eu' } },
          'clush' => { 'config' => { 'fanout' => 64 } },
        },
      }
    end

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_class('st2::pip').with_find_links('file:///opt/stackstorm/mirror').with_index_url(nil) }
    it { is_expected.to contain_st2__pack('mypack').with_source('file:///srv/packs/mypack') }
    it { is_expected.to contain_st2__pack('mypack').with_pip_env('PIP_NO_INDEX' => 'yes', 'PIP_FIND_LINKS' => 'file:///opt/stackstorm/mirror') }
    it { is_expected.to contain_st2__pack('mypack').that_requires(['Class[st2::config]', 'Class[st2::services]', 'Class[st2::pip]']) }
    it { is_expected.to contain_st2__pack('clush').with_source(nil) }
  end

  context 'with a served mirror' do
    let(:params) { { pip_index_url: 'http://head1:8080/simple/' } }

    it { is_expected.to contain_class('st2::pip').with_index_url('http://head1:8080/simple/') }
    it 'gives packs.install the same index, trusted' do
      expect(catalogue.resource('Class', 'St2')[:pip_index_url]).to eq('http://head1:8080/simple/')
    end
  end

  context 'with both kinds of mirror' do
    let(:params) { { pip_index_url: 'http://head1:8080/simple/', pip_find_links: 'file:///srv/mirror' } }

    it { is_expected.to compile.and_raise_error(%r{give either index_url}) }
  end

  context 'with a pack source that is not a file:// URL' do
    let(:params) { { packs: { 'mypack' => { 'source' => 'https://github.com/x/mypack' } } } }

    it { is_expected.to compile.and_raise_error(%r{source}) }
  end
end
