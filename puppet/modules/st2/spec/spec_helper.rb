# frozen_string_literal: true

# Catalog tests (rspec-puppet), offline: this module and the Debian-packaged ones it depends on
# (puppet-module-puppetlabs-stdlib, -inifile, -rabbitmq in /usr/share/puppet/modules).
require 'rspec-puppet'
require 'fileutils'
require 'tmpdir'

MODULES = File.expand_path('../..', __dir__)
SYSTEM_MODULES = ENV.fetch('ST2_SPEC_SYSTEM_MODULES', '/usr/share/puppet/modules')

EL9_FACTS = {
  'kernel' => 'Linux',
  'osfamily' => 'RedHat',
  'networking' => { 'fqdn' => 'st2.example.org', 'hostname' => 'st2' },
  'os' => {
    'family' => 'RedHat', 'name' => 'Rocky',
    'release' => { 'major' => '9', 'minor' => '3', 'full' => '9.3' },
  },
}.freeze
EL8_FACTS = EL9_FACTS.merge('os' => EL9_FACTS['os'].merge('release' => { 'major' => '8', 'minor' => '9', 'full' => '8.9' })).freeze
DEBIAN_FACTS = EL9_FACTS.merge(
  'osfamily' => 'Debian',
  'os' => { 'family' => 'Debian', 'name' => 'Debian', 'release' => { 'major' => '12', 'full' => '12.5' } },
).freeze

# rspec-puppet resolves the catalog's Deferred values as the host does when it applies it. That would
# run st2::secret here, making secrets under /etc/st2 of the machine running the tests: instead, its
# calls resolve to "host-secret:<its arguments>", so the tests see which file each secret comes from
# (st2::secret itself is tested in a temp folder). Every other Deferred function runs for real.
module St2SecretOnTheHost
  def resolve_future(future)
    if future.name == 'st2::secret'
      return Puppet::Pops::Types::PSensitiveType::Sensitive.new("host-secret:#{future.arguments.join(':')}")
    end
    super
  end
end
Puppet::Pops::Evaluator::DeferredResolver.prepend(St2SecretOnTheHost)

RSpec.configure do |c|
  c.module_path = [MODULES, SYSTEM_MODULES].join(File::PATH_SEPARATOR)
  c.setup_fixtures = false # no spec/fixtures/modules/st2 link: the module path above is enough
  site = Dir.mktmpdir('st2-spec')
  at_exit { FileUtils.remove_entry(site) }
  c.manifest = File.join(site, 'site.pp')
  File.write(c.manifest, '')
  c.default_facts = EL9_FACTS
  c.strict_variables = true
  c.before(:each) { Puppet[:strict] = :error }
end

# A catalog resource's parameter.
def param(type, title, name)
  resource = catalogue.resource(type, title)
  raise "#{type}[#{title}] is not in the catalog" unless resource
  resource[name]
end
