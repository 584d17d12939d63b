# frozen_string_literal: true

require_relative '../spec_helper'

KEY_JSON = '{"hmacKey": {"hmacKeyString": "aG1hYw", "size": 256}, "aesKeyString": "YWVz", "mode": "CBC", "size": 256}'

# st2::datastore is private: tested through st2.
describe 'st2' do
  context 'with no key given' do
    it { is_expected.to contain_file('/etc/st2/keys').with(ensure: 'directory', owner: 'root', group: nil, mode: '0700') }
    it 'makes the key on the host (StackStorm key format) and keeps it' do
      is_expected.to contain_file('/etc/st2/keys/datastore_key.json').with(
        ensure: 'file', owner: 'root', group: nil, mode: '0600', show_diff: false,
        content: sensitive('host-secret:/etc/st2/keys/datastore_key.json:crypto_key'),
      )
    end
    it { is_expected.to contain_file('/etc/st2/keys/datastore_key.json').that_notifies('Class[st2::services]') }
  end

  context 'with the site key given (the same on every host)' do
    let(:params) { { datastore_key: sensitive(KEY_JSON) } }

    it { is_expected.to contain_file('/etc/st2/keys/datastore_key.json').with_content(sensitive(KEY_JSON)) }
  end

  context 'with something that is not a key file' do
    let(:params) { { datastore_key: sensitive('{"aesKeyString": "YWVz"}') } }

    it { is_expected.to compile.and_raise_error(%r{datastore_key is not a StackStorm crypto key file}) }
  end

  context 'with no JSON at all' do
    let(:params) { { datastore_key: sensitive('not json') } }

    it { is_expected.to compile.and_raise_error(%r{datastore_key is not a StackStorm crypto key file}) }
  end

  context 'with a key that is not Sensitive' do
    let(:params) { { datastore_key: KEY_JSON } }

    it { is_expected.to compile.and_raise_error(%r{datastore_key}) }
  end
end
