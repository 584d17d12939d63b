# @summary /etc/st2/st2.conf: every section the appliance reads, one ini_setting per key.
#
# Keys this class does not set keep their value (the package's file, or a site's edit), except those
# it must remove for the wiring to hold: [database] url (it would win over host, or over SQLite)
# and, with SQLite, the MongoDB keys. Passwords go into the file at apply time (Deferred values,
# URL-encoded inside URLs), and the file is root:<group> 0640.
#
# @api private
class st2::config {
  assert_private()

  $secrets = $st2::secrets_dir

  $database = $st2::database ? {
    'mongodb' => {
      'url'      => undef,
      'host'     => st2::mongodb_uri($st2::mongodb_hosts, $st2::mongodb_port, {
          'authSource' => $st2::db_name,
          'replicaSet' => $st2::mongodb_replica_set,
      }),
      'port'     => $st2::mongodb_port,
      'db_name'  => $st2::db_name,
      'username' => $st2::db_username,
      'password' => st2::password($st2::db_password, "${secrets}/mongodb"),
    },
    'sqlite'  => {
      'url'      => undef,
      'host'     => undef,
      'username' => undef,
      'password' => undef,
    },
  }

  $amqp = Deferred('st2::interpolate', [
      "amqp://%{user}:%{password}@${st2::rabbitmq_host}:${st2::rabbitmq_port}/%{vhost}",
      {
        'user'     => $st2::rabbitmq_username,
        'password' => st2::password($st2::rabbitmq_password, "${secrets}/rabbitmq"),
        'vhost'    => $st2::rabbitmq_vhost,
      },
      'url',
  ])

  $coordination = $st2::use_redis ? {
    false   => undef,
    default => Deferred('st2::interpolate', [
        "redis://:%{password}@${st2::redis_host}:${st2::redis_port}",
        { 'password' => st2::password($st2::redis_password, "${secrets}/redis") },
        'url',
    ]),
  }

  # Set, or removed where undef.
  $managed = {
    'system'       => { 'base_path' => $st2::base_path },
    'auth'         => { 'host' => $st2::bind_host, 'port' => $st2::auth_port, 'enable' => true },
    'api'          => { 'host' => $st2::bind_host, 'port' => $st2::api_port },
    'stream'       => { 'host' => $st2::bind_host, 'port' => $st2::stream_port },
    'database'     => $database,
    'messaging'    => { 'url' => $amqp },
    'coordination' => { 'url' => $coordination },
    'keyvalue'     => { 'encryption_key_path' => $st2::datastore_key_path },
    'system_user'  => { 'user' => $st2::system_user, 'ssh_key_file' => $st2::ssh_key_file },
    'actionrunner' => { 'workers' => $st2::actionrunner_workers },
    'timersengine' => { 'local_timezone' => $st2::timezone },
    'log'          => { 'level' => $st2::log_level },
    'supervisor'   => { 'mode' => $st2::supervisor_mode },
  }
  # Set when given, left as they are otherwise.
  $optional = {
    'content' => {
      'system_packs_base_path' => $st2::system_packs_base_path,
      'packs_base_paths'       => $st2::packs_base_paths.empty ? {
        true    => undef,
        default => join($st2::packs_base_paths, ':'),
      },
    },
    'auth'    => { 'api_url' => $st2::api_url },
    'webui'   => { 'webui_base_url' => $st2::webui_base_url },
    'log'     => { 'path' => $st2::log_path },
  }
  $given = Hash($optional.map |String $section, Hash $keys| {
      [$section, $keys.filter |$key, $value| { $value =~ NotUndef }]
  })
  # The site's settings win, key by key.
  $all = deep_merge($managed, $given, $st2::settings)

  file { $st2::conf_path:
    ensure => file,
    owner  => 'root',
    group  => $st2::group,
    mode   => '0640',
  }

  $all.each |String $section, Hash $keys| {
    $keys.each |String $key, $value| {
      $ensure = $value ? {
        undef   => absent,
        default => present,
      }
      $text = $value ? {
        Boolean => bool2str($value),
        Numeric => String($value),
        default => $value,
      }
      ini_setting { "st2.conf [${section}] ${key}":
        ensure  => $ensure,
        path    => $st2::conf_path,
        section => $section,
        setting => $key,
        value   => $text,
        require => File[$st2::conf_path],
      }
    }
  }
}
