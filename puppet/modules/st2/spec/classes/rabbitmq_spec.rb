# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::rabbitmq' do
  context 'with defaults' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_rabbitmq_vhost('st2').with_ensure('present') }
    it 'makes a user that is not an administrator, with a password made on the host' do
      is_expected.to contain_rabbitmq_user('st2').with(ensure: 'present', admin: false, password: sensitive('host-secret:/etc/st2/secrets/rabbitmq'))
    end
    it 'gives it every permission on its vhost' do
      is_expected.to contain_rabbitmq_user_permissions('st2@st2').with(
        configure_permission: '.*', read_permission: '.*', write_permission: '.*',
      ).that_requires(['Rabbitmq_vhost[st2]', 'Rabbitmq_user[st2]'])
    end
    it { is_expected.to contain_rabbitmq_user('guest').with_ensure('absent') }
  end

  context 'with a given password, keeping guest' do
    let(:params) { { vhost: 'hpc', username: 'hpcauto', password: sensitive('mq-pass-1234'), delete_guest_user: false } }

    it { is_expected.to contain_rabbitmq_user('hpcauto').with_password(sensitive('mq-pass-1234')) }
    it { is_expected.to contain_rabbitmq_user_permissions('hpcauto@hpc') }
    it { is_expected.not_to contain_rabbitmq_user('guest') }
  end

  context 'as guest while removing guest' do
    let(:params) { { username: 'guest' } }

    it { is_expected.to compile.and_raise_error(%r{username cannot be guest}) }
  end

  context 'with a password the rabbitmq_user check cannot quote' do
    let(:params) { { password: sensitive('back\\slash-pass') } }

    it { is_expected.to compile.and_raise_error(%r{password}) }
  end
end
