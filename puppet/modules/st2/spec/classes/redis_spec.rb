# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::redis' do
  let(:command) { param('Exec', 'st2 redis requirepass', :command) }
  let(:unless_check) { param('Exec', 'st2 redis requirepass', :unless) }

  [
    ['EL 9', EL9_FACTS, '/etc/redis/redis.conf', 'redis'],
    ['EL 8', EL8_FACTS, '/etc/redis.conf', 'redis'],
    ['Debian 12', DEBIAN_FACTS, '/etc/redis/redis.conf', 'redis-server'],
  ].each do |os, os_facts, conf, name|
    context "on #{os}" do
      let(:facts) { os_facts }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_package(name).with_ensure('installed').that_comes_before('File_line[st2 redis requirepass]') }
      it 'keeps requirepass in redis.conf, in place of the commented example' do
        is_expected.to contain_file_line('st2 redis requirepass').with(
          path: conf, match: '^\s*#?\s*requirepass\s', line: sensitive('requirepass host-secret:/etc/st2/secrets/redis'),
        )
      end
      it { is_expected.to contain_service(name).with(ensure: 'running', enable: true).that_subscribes_to('File_line[st2 redis requirepass]') }
      it { is_expected.to contain_service(name).that_comes_before('Exec[st2 redis requirepass]') }
    end
  end

  context 'with defaults' do
    it { is_expected.to contain_file('/etc/st2/secrets/redis').with(mode: '0600', content: sensitive('host-secret:/etc/st2/secrets/redis')) }

    it 'sets the password on the running server through stdin, from the secret file' do
      expect(command).to include(%(printf 'CONFIG SET requirepass %s\\n' "$(cat /etc/st2/secrets/redis)" | redis-cli -h 127.0.0.1 -p 6379))
      expect(command).to include('[ "$out" = OK ] || { echo "redis at 127.0.0.1:6379 did not take the password: $out" >&2; exit 1; }')
    end

    it 'runs only while the server lets clients in without this password (redis PONGs after a failed AUTH)' do
      expect(unless_check).to eq(
        'REDISCLI_AUTH="$(cat /etc/st2/secrets/redis)" redis-cli -h 127.0.0.1 -p 6379 --no-auth-warning PING 2>/dev/null | grep -qx PONG ' \
        '&& redis-cli -h 127.0.0.1 -p 6379 PING 2>&1 | grep -q NOAUTH',
      )
    end
    it { is_expected.to contain_exec('st2 redis requirepass').that_requires(['St2::Secret_file[/etc/st2/secrets/redis]', 'File_line[st2 redis requirepass]']) }
  end

  context 'on a scratch server, given its password and config, managing neither package nor service' do
    let(:params) do
      {
        port: 16379, password: sensitive('r3dis-pass'), config_file: '/tmp/redis/redis.conf',
        manage_package: false, manage_service: false, secrets_dir: '/tmp/secrets'
      }
    end

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_file('/tmp/secrets/redis').with_content(sensitive('r3dis-pass')) }
    it { is_expected.to contain_file_line('st2 redis requirepass').with(path: '/tmp/redis/redis.conf', line: sensitive('requirepass r3dis-pass')) }
    it { expect(command).to include('redis-cli -h 127.0.0.1 -p 16379') }
    it { expect(command + unless_check).not_to include('r3dis-pass') }
    it { is_expected.not_to contain_package('redis') }
    it { is_expected.not_to contain_service('redis') }
  end

  context 'with a password redis.conf would split' do
    let(:params) { { password: sensitive('two words') } }

    it { is_expected.to compile.and_raise_error(%r{password}) }
  end
end
