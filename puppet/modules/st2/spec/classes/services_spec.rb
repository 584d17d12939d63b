# frozen_string_literal: true

require_relative '../spec_helper'

SERVICES = %w[
  st2actionrunner st2api st2auth st2garbagecollector st2notifier st2rulesengine st2scheduler
  st2sensorcontainer st2stream st2timersengine st2workflowengine
].freeze

# st2::services is private: tested through st2.
describe 'st2' do
  context 'with every service' do
    SERVICES.each do |name|
      it { is_expected.to contain_service(name).with(ensure: 'running', enable: true, tag: ['st2::service']) }
    end
    it 'has one service per appliance service, no more' do
      expect(catalogue.resources.select { |r| r.type == 'Service' && r.title.start_with?('st2') }.map(&:title).sort).to eq(SERVICES)
    end
  end

  context 'registering content' do
    it 'after an install or upgrade of the package, before the services start' do
      is_expected.to contain_exec('st2ctl reload --register-all').with(
        command: 'st2ctl reload --register-all --config-file /etc/st2/st2.conf', refreshonly: true,
      ).that_subscribes_to('Class[st2::install]').that_requires('Class[st2::config]')
    end
    it { is_expected.to contain_service('st2api').that_requires('Exec[st2ctl reload --register-all]') }
  end

  context 'with services switched off' do
    let(:params) { { services: { 'st2sensorcontainer' => false, 'st2garbagecollector' => false, 'st2api' => true } } }

    it { is_expected.to contain_service('st2sensorcontainer').with(ensure: 'stopped', enable: false) }
    it { is_expected.to contain_service('st2garbagecollector').with(ensure: 'stopped', enable: false) }
    it { is_expected.to contain_service('st2api').with(ensure: 'running', enable: true) }
  end

  context 'with a service the appliance does not have' do
    let(:params) { { services: { 'st2chatops' => true } } }

    it { is_expected.to compile.and_raise_error(%r{services}) }
  end

  context 'without service management (no systemd)' do
    let(:params) { { manage_services: false } }

    SERVICES.each do |name|
      it { is_expected.not_to contain_service(name) }
    end
    it { is_expected.not_to contain_service('redis') }
  end
end

describe 'st2::services' do
  it { is_expected.to compile.and_raise_error(%r{private}) }
end
