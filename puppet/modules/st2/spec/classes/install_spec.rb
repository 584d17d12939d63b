# frozen_string_literal: true

require_relative '../spec_helper'

# st2::install is private: tested through st2.
describe 'st2' do
  context 'installing the appliance' do
    it { is_expected.to contain_package('st2').with_ensure('installed').that_comes_before('File[/etc/st2]') }
    it { is_expected.to contain_package('st2').that_notifies('Class[st2::services]') }
  end

  context 'with a pinned version of another package name' do
    let(:params) { { package_name: 'st2-appliance', package_ensure: '0.3.0-2.el9' } }

    it { is_expected.to contain_package('st2-appliance').with_ensure('0.3.0-2.el9') }
  end

  context 'without the package' do
    let(:params) { { manage_package: false } }

    it { is_expected.not_to contain_package('st2') }
    it { is_expected.to contain_file('/etc/st2').with_ensure('directory') }
  end

end

describe 'st2::install' do
  it { is_expected.to compile.and_raise_error(%r{private}) }
end
