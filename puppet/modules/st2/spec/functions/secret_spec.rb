# frozen_string_literal: true

require 'json'
require 'tmpdir'
require_relative '../spec_helper'

# st2::secret runs on the host (Deferred): here in a temp folder, never under /etc.
describe 'st2::secret' do
  around(:each) do |example|
    Dir.mktmpdir('st2-secret-spec') do |dir|
      @dir = dir
      example.run
    end
  end

  let(:path) { File.join(@dir, 'etc', 'secrets', 'redis') }

  it 'makes a random password the first time, in a root-only file, and keeps it' do
    first = subject.execute(path)
    expect(first).to be_a(Puppet::Pops::Types::PSensitiveType::Sensitive)
    expect(first.unwrap).to match(%r{\A[A-Za-z0-9]{32}\z})
    expect(File.stat(path).mode & 0o777).to eq(0o600)
    expect(File.stat(File.dirname(path)).mode & 0o777).to eq(0o700)
    expect(File.stat(File.join(@dir, 'etc')).mode & 0o777).not_to eq(0o700) # parents stay readable
    expect(subject.execute(path).unwrap).to eq(first.unwrap)
    other = subject.execute(File.join(@dir, 'etc', 'secrets', 'mongodb'))
    expect(other.unwrap).not_to eq(first.unwrap)
  end

  it 'reads back a secret written by hand, without its newline' do
    FileUtils.mkdir_p(File.dirname(path))
    File.write(path, "site-made-secret\n")
    expect(subject.execute(path).unwrap).to eq('site-made-secret')
  end

  it 'refuses an empty file, saying what to do' do
    FileUtils.mkdir_p(File.dirname(path))
    File.write(path, "\n")
    is_expected.to run.with_params(path).and_raise_error(%r{is empty: delete it to have a new secret made})
  end

  it 'makes a StackStorm datastore key file' do
    key_path = File.join(@dir, 'keys', 'datastore_key.json')
    key = JSON.parse(subject.execute(key_path, 'crypto_key').unwrap)
    expect(key.keys.sort).to eq(%w[aesKeyString hmacKey mode size])
    expect(key['mode']).to eq('CBC')
    expect(key['size']).to eq(256)
    expect(key['hmacKey']['size']).to eq(256)
    [key['aesKeyString'], key['hmacKey']['hmacKeyString']].each do |text|
      expect(text).to match(%r{\A[A-Za-z0-9_-]{43}\z}) # urlsafe base64 of 32 bytes, no padding
      expect((text + '=').tr('-_', '+/').unpack1('m0').bytesize).to eq(32)
    end
    expect(subject.execute(key_path, 'crypto_key').unwrap).to eq(File.read(key_path))
  end

  it { is_expected.to run.with_params('relative/path').and_raise_error(%r{path}) }
  it { is_expected.to run.with_params(File.join(Dir.tmpdir, 'x'), 'rsa').and_raise_error(%r{kind}) }
end
