# @summary The StackStorm-compatible appliance on one host: package, st2.conf, datastore key,
#   MongoDB user, RabbitMQ vhost and user, Redis password, services, pip index and packs.
#
# No password has a default. A password that is not given is made on the host the first time
# (`st2::secret`, a Deferred function: it never reaches the Puppet server) and kept in
# `${secrets_dir}/<name>` (0600, root), so later runs and st2.conf agree on it. Where this host
# cannot make the account itself (`manage_mongodb`, `manage_rabbitmq` or `manage_redis` false: the
# account lives on another host), the password must be given, or the catalog fails saying so.
#
# @param manage_package Install the appliance package.
# @param package_name Its name.
# @param package_ensure Its version, or 'installed' / 'latest'.
# @param user Owner of the datastore key and the pack configs: the user the services run as (root
#   with the st2 RPM's units, as st2ctl).
# @param group The group that may read st2.conf (the st2 RPM's st2).
# @param conf_dir The folder of st2.conf.
# @param conf_path st2.conf.
# @param secrets_dir Where passwords made on this host are kept (0700, root).
# @param base_path [system] base_path: packs, virtualenvs, configs and data live under it.
# @param system_packs_base_path [content] system_packs_base_path (default: <base_path>/packs).
# @param packs_base_paths [content] packs_base_paths: more pack folders.
# @param bind_host [auth], [api] and [stream] host: 127.0.0.1 behind the st2-nginx proxy.
# @param auth_port [auth] port.
# @param api_port [api] port.
# @param stream_port [stream] port.
# @param api_url [auth] api_url: the API URL actions are given (ST2_ACTION_API_URL); unset = http://127.0.0.1:<api_port>.
# @param webui_base_url [webui] webui_base_url (links in notifications), e.g. https://st2.example.org.
# @param supervisor_mode [supervisor] mode, for `st2ctl start`: processes (one per service) or threads.
# @param database 'mongodb' (production, [database] host) or 'sqlite' (one host, the embedded engine).
# @param manage_mongodb Create the MongoDB user with mongosh on this host (needs a reachable MongoDB).
# @param mongodb_hosts MongoDB servers, 'host' or 'host:port'; several for a replica set.
# @param mongodb_port The port of a host given without one.
# @param mongodb_replica_set The replica set name (replicaSet= in [database] host).
# @param db_name [database] db_name; the user is created in it (authSource).
# @param db_username [database] username.
# @param db_password [database] password; made on this host when not given and manage_mongodb.
# @param mongodb_admin_username A MongoDB user allowed to create users, when access control is on.
# @param mongodb_admin_password Its password (kept in <secrets_dir>/mongodb_admin, never made up).
# @param manage_rabbitmq Create the vhost, the user and its permissions with rabbitmqctl on this host.
# @param rabbitmq_host [messaging] url host.
# @param rabbitmq_port [messaging] url port.
# @param rabbitmq_vhost The appliance's own vhost.
# @param rabbitmq_username The appliance's RabbitMQ user (permissions on its vhost only, not administrator).
# @param rabbitmq_password Its password; made on this host when not given and manage_rabbitmq.
# @param rabbitmq_delete_guest_user Remove RabbitMQ's guest user (guest/guest).
# @param use_redis Redis for [coordination] (leader locks); false = locks in the appliance's database.
# @param redis_host [coordination] url host.
# @param redis_port [coordination] url port.
# @param redis_password Redis' requirepass; made on this host when not given and manage_redis.
# @param manage_redis Set requirepass on this host's Redis (redis.conf and the running server).
# @param redis_config_file redis.conf (default: the OS's).
# @param datastore_key_path [keyvalue] encryption_key_path.
# @param datastore_key The key file's content (StackStorm's JSON), the same on every host; made
#   on this host when not given.
# @param system_user [system_user] user: the remote runners' login name.
# @param ssh_key_file [system_user] ssh_key_file.
# @param actionrunner_workers [actionrunner] workers: concurrent executions per action runner.
# @param timezone [timersengine] local_timezone: the zone of timers without one.
# @param log_level [log] level.
# @param log_path [log] path (unset: the appliance's default).
# @param settings More st2.conf settings, { section => { key => value } }; undef removes a key.
# @param manage_services Manage the services (systemd units); false where Puppet must not start them.
# @param services Switch services off ({ 'st2sensorcontainer' => false }); every other one runs.
# @param pip_index_url The site mirror as the hosts' pip index (/etc/pip.conf index-url).
# @param pip_find_links Or a mirror folder (file:///...): /etc/pip.conf no-index + find-links (one of the two).
# @param pip_conf_path The pip configuration file.
# @param packs Packs to install and configure: { name => st2::pack parameters }.
# @param cli_config The st2 CLI configuration (with credentials) used to install packs.
#
# @example One host with everything local (passwords made on the host)
#   class { 'st2':
#     pip_find_links => 'file:///opt/stackstorm/mirror',
#     packs          => { 'mypack' => { 'source' => 'file:///srv/packs/mypack', 'config' => { 'region' => 'eu' } } },
#   }
class st2 (
  Boolean $manage_package = true,
  String[1] $package_name = 'st2',
  String[1] $package_ensure = 'installed',
  String[1] $user = 'root',
  String[1] $group = 'st2',
  Stdlib::Absolutepath $conf_dir = '/etc/st2',
  Stdlib::Absolutepath $conf_path = "${conf_dir}/st2.conf",
  Stdlib::Absolutepath $secrets_dir = "${conf_dir}/secrets",
  Stdlib::Absolutepath $base_path = '/opt/stackstorm',
  Optional[Stdlib::Absolutepath] $system_packs_base_path = undef,
  Array[Stdlib::Absolutepath] $packs_base_paths = [],
  Stdlib::Host $bind_host = '127.0.0.1',
  Stdlib::Port $auth_port = 9100,
  Stdlib::Port $api_port = 9101,
  Stdlib::Port $stream_port = 9102,
  Optional[Stdlib::HTTPUrl] $api_url = undef,
  Optional[Stdlib::HTTPUrl] $webui_base_url = undef,
  Enum['threads', 'processes'] $supervisor_mode = 'processes',
  Enum['mongodb', 'sqlite'] $database = 'mongodb',
  Boolean $manage_mongodb = true,
  Array[String[1], 1] $mongodb_hosts = ['127.0.0.1'],
  Stdlib::Port $mongodb_port = 27017,
  Optional[Pattern[/\A[A-Za-z0-9_.-]+\z/]] $mongodb_replica_set = undef,
  Pattern[/\A[A-Za-z0-9_-]+\z/] $db_name = 'st2',
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $db_username = 'stackstorm',
  Optional[St2::Secret] $db_password = undef,
  Optional[Pattern[/\A[A-Za-z0-9_.-]+\z/]] $mongodb_admin_username = undef,
  Optional[St2::Secret] $mongodb_admin_password = undef,
  Boolean $manage_rabbitmq = true,
  Stdlib::Host $rabbitmq_host = '127.0.0.1',
  Stdlib::Port $rabbitmq_port = 5672,
  Pattern[/\A[A-Za-z0-9_.\/-]+\z/] $rabbitmq_vhost = 'st2',
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $rabbitmq_username = 'st2',
  Optional[St2::Secret] $rabbitmq_password = undef,
  Boolean $rabbitmq_delete_guest_user = true,
  Boolean $use_redis = true,
  Stdlib::Host $redis_host = '127.0.0.1',
  Stdlib::Port $redis_port = 6379,
  Optional[St2::Secret] $redis_password = undef,
  Boolean $manage_redis = true,
  Optional[Stdlib::Absolutepath] $redis_config_file = undef,
  Stdlib::Absolutepath $datastore_key_path = "${conf_dir}/keys/datastore_key.json",
  Optional[Sensitive[String[1]]] $datastore_key = undef,
  String[1] $system_user = 'stanley',
  Stdlib::Absolutepath $ssh_key_file = '/home/stanley/.ssh/stanley_rsa',
  Integer[1] $actionrunner_workers = 16,
  String[1] $timezone = 'UTC',
  Enum['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] $log_level = 'INFO',
  Optional[Stdlib::Absolutepath] $log_path = undef,
  Hash[String[1], Hash[String[1], Optional[Variant[String, Integer, Float, Boolean]]]] $settings = {},
  Boolean $manage_services = true,
  Hash[St2::Service, Boolean] $services = {},
  Optional[Stdlib::HTTPUrl] $pip_index_url = undef,
  Optional[Pattern[/\Afile:\/\/\/[^\s'"\\]+\z/]] $pip_find_links = undef,
  Stdlib::Absolutepath $pip_conf_path = '/etc/pip.conf',
  Hash[Pattern[/\A[a-z0-9_]+\z/], Hash] $packs = {},
  Stdlib::Absolutepath $cli_config = '/root/.st2/config',
) {
  # Accounts made on another host: this one cannot make up a password they would accept.
  $elsewhere = 'is set up on another host, so a password made on this one would not match it'
  if $database == 'mongodb' and !$manage_mongodb and $db_password =~ Undef {
    fail("st2: db_password is required when manage_mongodb is false (the MongoDB user ${elsewhere})")
  }
  if !$manage_rabbitmq and $rabbitmq_password =~ Undef {
    fail("st2: rabbitmq_password is required when manage_rabbitmq is false (the RabbitMQ user ${elsewhere})")
  }
  if $use_redis and !$manage_redis and $redis_password =~ Undef {
    fail("st2: redis_password is required when manage_redis is false (Redis ${elsewhere})")
  }

  # What `st2 run packs.install` gives pip: the mirror of /etc/pip.conf.
  if $pip_find_links {
    $pip_env = { 'PIP_NO_INDEX' => 'yes', 'PIP_FIND_LINKS' => $pip_find_links }
  } elsif $pip_index_url and $pip_index_url =~ /\Ahttp:\/\/([^\/:]+)/ {
    $pip_env = { 'PIP_INDEX_URL' => $pip_index_url, 'PIP_TRUSTED_HOST' => $1 }
  } elsif $pip_index_url {
    $pip_env = { 'PIP_INDEX_URL' => $pip_index_url }
  } else {
    $pip_env = {}
  }

  contain st2::install
  contain st2::datastore
  contain st2::config
  Class['st2::install'] -> Class['st2::datastore'] -> Class['st2::config']

  # Services start once everything they connect to is ready; a changed setting restarts them.
  if $manage_services {
    contain st2::services
    Class['st2::config'] ~> Class['st2::services']
    Class['st2::datastore'] ~> Class['st2::services']
    Class['st2::install'] ~> Class['st2::services']
    Class['st2::services'] -> St2::Pack <| |>
  }
  Class['st2::config'] -> St2::Pack <| |>

  if $database == 'mongodb' and $manage_mongodb {
    class { 'st2::mongodb':
      hosts          => $mongodb_hosts,
      port           => $mongodb_port,
      replica_set    => $mongodb_replica_set,
      db_name        => $db_name,
      username       => $db_username,
      password       => $db_password,
      admin_username => $mongodb_admin_username,
      admin_password => $mongodb_admin_password,
      secrets_dir    => $secrets_dir,
    }
    contain st2::mongodb
    if $manage_services {
      Class['st2::mongodb'] -> Class['st2::services']
    }
  }

  if $manage_rabbitmq {
    class { 'st2::rabbitmq':
      vhost             => $rabbitmq_vhost,
      username          => $rabbitmq_username,
      password          => $rabbitmq_password,
      delete_guest_user => $rabbitmq_delete_guest_user,
      secrets_dir       => $secrets_dir,
    }
    contain st2::rabbitmq
    if $manage_services {
      Class['st2::rabbitmq'] -> Class['st2::services']
    }
  }

  if $use_redis and $manage_redis {
    class { 'st2::redis':
      host           => $redis_host,
      port           => $redis_port,
      password       => $redis_password,
      secrets_dir    => $secrets_dir,
      config_file    => $redis_config_file,
      manage_package => $manage_package,
      manage_service => $manage_services,
    }
    contain st2::redis
    if $manage_services {
      Class['st2::redis'] -> Class['st2::services']
    }
  }

  if $pip_index_url or $pip_find_links {
    class { 'st2::pip':
      index_url  => $pip_index_url,
      find_links => $pip_find_links,
      path       => $pip_conf_path,
    }
    contain st2::pip
    Class['st2::pip'] -> St2::Pack <| |>
  }

  $packs.each |String $pack, Hash $options| {
    st2::pack { $pack:
      * => $options,
    }
  }
}
