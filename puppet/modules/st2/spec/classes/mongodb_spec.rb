# frozen_string_literal: true

require_relative '../spec_helper'

# Catalog tests only: no MongoDB server can run on the build machines (none is packaged for EL or
# Debian), so the mongosh commands are checked here, not run.
describe 'st2::mongodb' do
  let(:exec_title) { 'st2 mongodb user stackstorm@st2' }
  let(:command) { param('Exec', exec_title, :command) }
  let(:unless_check) { param('Exec', exec_title, :unless) }

  context 'with defaults' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_file('/etc/st2/secrets').with(ensure: 'directory', owner: 'root', mode: '0700') }
    it 'keeps the password made on the host in a root-only file' do
      is_expected.to contain_file('/etc/st2/secrets/mongodb').with(
        mode: '0600', owner: 'root', show_diff: false, content: sensitive('host-secret:/etc/st2/secrets/mongodb'),
      )
    end
    it { is_expected.to contain_exec(exec_title).with(provider: 'shell').that_requires('St2::Secret_file[/etc/st2/secrets/mongodb]') }

    it 'creates the user, or gives an existing one this password, with readWrite on the database' do
      expect(command).to include("mongosh --quiet --norc 'mongodb://127.0.0.1:27017/'")
      expect(command).to include('ST2_DB_NAME=st2 ST2_DB_USER=stackstorm ST2_DB_PASSWORD="$(cat /etc/st2/secrets/mongodb)"')
      expect(command).to include('d.createUser({ user: e.ST2_DB_USER, pwd: e.ST2_DB_PASSWORD, roles: roles })')
      expect(command).to include('d.updateUser(e.ST2_DB_USER, { pwd: e.ST2_DB_PASSWORD, roles: roles })')
      expect(command).to include('[{ role: "readWrite", db: e.ST2_DB_NAME }]')
    end

    it 'runs only while the user cannot log in with its password (idempotent)' do
      expect(unless_check).to include("mongosh --quiet --norc 'mongodb://127.0.0.1:27017/'")
      expect(unless_check).to include('db.getSiblingDB(e.ST2_DB_NAME).auth(e.ST2_DB_USER, e.ST2_DB_PASSWORD).ok ? 0 : 1')
    end

    it 'keeps the JavaScript inside its single quotes' do
      [command, unless_check].each do |text|
        script = text[%r{--eval '(.*)'\z}, 1]
        expect(script).not_to be_nil
        expect(script).not_to include("'")
      end
    end
  end

  context 'with a replica set, an administrator and a given password' do
    let(:params) do
      {
        hosts: ['db1', 'db2:27018'], replica_set: 'rs0', db_name: 'st2prod', username: 'st2prod',
        password: sensitive('db-pass-1234'), admin_username: 'dbadmin', admin_password: sensitive('admin-pass-1234')
      }
    end
    let(:exec_title) { 'st2 mongodb user st2prod@st2prod' }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_file('/etc/st2/secrets/mongodb').with_content(sensitive('db-pass-1234')) }
    it { is_expected.to contain_file('/etc/st2/secrets/mongodb_admin').with_content(sensitive('admin-pass-1234')) }
    it 'connects to the replica set and logs in as the administrator first' do
      expect(command).to include("'mongodb://db1:27017,db2:27018/?replicaSet=rs0'")
      expect(command).to include('ST2_DB_ADMIN=dbadmin ST2_DB_ADMIN_DB=admin ST2_DB_ADMIN_PASSWORD="$(cat /etc/st2/secrets/mongodb_admin)"')
      expect(command).to include('db.getSiblingDB(e.ST2_DB_ADMIN_DB).auth(e.ST2_DB_ADMIN, e.ST2_DB_ADMIN_PASSWORD)')
    end
    it 'never puts a password on a command line' do
      [command, unless_check].each do |text|
        expect(text).not_to include('db-pass-1234')
        expect(text).not_to include('admin-pass-1234')
      end
    end
  end

  context 'with an administrator but no password for it' do
    let(:params) { { admin_username: 'dbadmin' } }

    it { is_expected.to compile.and_raise_error(%r{admin_password is required with admin_username}) }
  end

  context 'with a database name a shell would read' do
    let(:params) { { db_name: 'st2; rm -rf /' } }

    it { is_expected.to compile.and_raise_error(%r{db_name}) }
  end
end
