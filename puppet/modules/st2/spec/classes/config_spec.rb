# frozen_string_literal: true

require_relative '../spec_helper'

SECRET_KEYS = ['database password', 'messaging url', 'coordination url'].freeze

# st2::config is private: it is tested through st2, which declares it.
describe 'st2' do
  def setting(section, key)
    "st2.conf [#{section}] #{key}"
  end

  context 'st2.conf with defaults' do
    it { is_expected.to contain_file('/etc/st2/st2.conf').with(owner: 'root', group: 'st2', mode: '0640') }
    it { is_expected.to contain_file('/etc/st2').with_ensure('directory') }

    {
      %w[system base_path] => '/opt/stackstorm',
      %w[auth host] => '127.0.0.1', %w[auth port] => '9100', %w[auth enable] => 'true',
      %w[api host] => '127.0.0.1', %w[api port] => '9101',
      %w[stream host] => '127.0.0.1', %w[stream port] => '9102',
      %w[database host] => 'mongodb://127.0.0.1:27017/?authSource=st2',
      %w[database port] => '27017', %w[database db_name] => 'st2', %w[database username] => 'stackstorm',
      %w[database password] => 'host-secret:/etc/st2/secrets/mongodb',
      %w[messaging url] => 'amqp://st2:host-secret%3A%2Fetc%2Fst2%2Fsecrets%2Frabbitmq@127.0.0.1:5672/st2',
      %w[coordination url] => 'redis://:host-secret%3A%2Fetc%2Fst2%2Fsecrets%2Fredis@127.0.0.1:6379',
      %w[keyvalue encryption_key_path] => '/etc/st2/keys/datastore_key.json',
      %w[system_user user] => 'stanley', %w[system_user ssh_key_file] => '/home/stanley/.ssh/stanley_rsa',
      %w[actionrunner workers] => '16',
      %w[timersengine local_timezone] => 'UTC',
      %w[log level] => 'INFO',
      %w[supervisor mode] => 'processes',
    }.each do |(section, key), value|
      it "sets [#{section}] #{key}" do
        expected = SECRET_KEYS.include?("#{section} #{key}") ? sensitive(value) : value
        is_expected.to contain_ini_setting(setting(section, key)).with(
          ensure: 'present', path: '/etc/st2/st2.conf', section: section, setting: key, value: expected,
        ).that_requires('File[/etc/st2/st2.conf]')
      end
    end

    it 'keeps the passwords out of logs and reports' do
      SECRET_KEYS.each do |name|
        section, key = name.split
        expect(catalogue.resource('Ini_setting', setting(section, key)).sensitive_parameters).to include(:value)
      end
    end

    it 'removes [database] url, which would win over host' do
      is_expected.to contain_ini_setting(setting('database', 'url')).with_ensure('absent')
    end

    it 'leaves the optional keys alone' do
      %w[content/system_packs_base_path content/packs_base_paths auth/api_url webui/webui_base_url log/path].each do |key|
        is_expected.not_to contain_ini_setting(setting(*key.split('/')))
      end
    end
  end

  context 'with a replica set, other ports and the optional keys' do
    let(:params) do
      {
        mongodb_hosts: ['db1', 'db2:27018', 'db3'], mongodb_replica_set: 'rs0', db_name: 'st2prod',
        db_username: 'st2prod', manage_mongodb: false, db_password: sensitive('db-pass-1234'),
        rabbitmq_host: 'mq1', rabbitmq_port: 5671, rabbitmq_vhost: 'st2prod', rabbitmq_username: 'st2prod',
        manage_rabbitmq: false, rabbitmq_password: sensitive('p@ss:w/rd%41#?'),
        redis_host: 'redis1', redis_port: 6380, manage_redis: false, redis_password: sensitive('r3dis@pass'),
        system_packs_base_path: '/opt/stackstorm/packs', packs_base_paths: ['/srv/packs', '/srv/more'],
        api_url: 'https://st2.example.org/api', webui_base_url: 'https://st2.example.org',
        log_path: '/var/log/st2/st2.log', log_level: 'DEBUG', supervisor_mode: 'threads', timezone: 'Europe/Paris',
        bind_host: '0.0.0.0', api_port: 19101, datastore_key_path: '/etc/st2/datastore.json'
      }
    end

    {
      %w[database host] => 'mongodb://db1:27017,db2:27018,db3:27017/?authSource=st2prod&replicaSet=rs0',
      %w[database db_name] => 'st2prod', %w[database username] => 'st2prod',
      %w[database password] => 'db-pass-1234',
      # the password URL-encoded: '@', ':', '/', '%', '#' and '?' would otherwise end its part of the URL
      %w[messaging url] => 'amqp://st2prod:p%40ss%3Aw%2Frd%2541%23%3F@mq1:5671/st2prod',
      %w[coordination url] => 'redis://:r3dis%40pass@redis1:6380',
      %w[content system_packs_base_path] => '/opt/stackstorm/packs',
      %w[content packs_base_paths] => '/srv/packs:/srv/more',
      %w[auth api_url] => 'https://st2.example.org/api', %w[webui webui_base_url] => 'https://st2.example.org',
      %w[log path] => '/var/log/st2/st2.log', %w[log level] => 'DEBUG',
      %w[supervisor mode] => 'threads', %w[timersengine local_timezone] => 'Europe/Paris',
      %w[api host] => '0.0.0.0', %w[api port] => '19101',
      %w[keyvalue encryption_key_path] => '/etc/st2/datastore.json',
    }.each do |(section, key), value|
      it "sets [#{section}] #{key}" do
        expected = SECRET_KEYS.include?("#{section} #{key}") ? sensitive(value) : value
        is_expected.to contain_ini_setting(setting(section, key)).with_value(expected)
      end
    end

    it 'keeps the datastore key in the configuration folder without redeclaring it' do
      is_expected.to contain_file('/etc/st2/datastore.json').with_mode('0600')
    end
  end

  context 'with a vhost named /' do
    let(:params) { { rabbitmq_vhost: '/' } }

    it { expect(param('Ini_setting', setting('messaging', 'url'), :value)).to end_with('@127.0.0.1:5672/%2F') }
  end

  context 'with SQLite and no Redis' do
    let(:params) { { database: 'sqlite', use_redis: false } }

    %w[url host username password].each do |key|
      it { is_expected.to contain_ini_setting(setting('database', key)).with_ensure('absent') }
    end
    it { is_expected.not_to contain_ini_setting(setting('database', 'db_name')) }
    it { is_expected.to contain_ini_setting(setting('coordination', 'url')).with_ensure('absent') }
  end

  context 'with site settings' do
    let(:params) do
      {
        settings: {
          'garbagecollector' => { 'action_executions_ttl' => 30, 'purge_inquiries' => false },
          'log' => { 'level' => 'WARNING' },
          'ssh_runner' => { 'use_ssh_config' => true, 'ssh_config_file_path' => '/etc/st2/ssh_config' },
          'action_sensor' => { 'emit_when' => 'failed,timeout' },
          'webui' => { 'webui_base_url' => :undef },
        },
      }
    end

    it { is_expected.to contain_ini_setting(setting('garbagecollector', 'action_executions_ttl')).with_value('30') }
    it { is_expected.to contain_ini_setting(setting('garbagecollector', 'purge_inquiries')).with_value('false') }
    it { is_expected.to contain_ini_setting(setting('log', 'level')).with_value('WARNING') }
    it { is_expected.to contain_ini_setting(setting('ssh_runner', 'use_ssh_config')).with_value('true') }
    it { is_expected.to contain_ini_setting(setting('ssh_runner', 'ssh_config_file_path')).with_value('/etc/st2/ssh_config') }
    it { is_expected.to contain_ini_setting(setting('action_sensor', 'emit_when')).with_value('failed,timeout') }
    it { is_expected.to contain_ini_setting(setting('webui', 'webui_base_url')).with_ensure('absent') }
  end
end
