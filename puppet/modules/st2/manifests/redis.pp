# @summary Redis with a password: `requirepass` in redis.conf, and set on the running server.
#
# StackStorm's own module leaves Redis open; this one sets `requirepass` in redis.conf (kept across
# restarts) and with `CONFIG SET` on the running server, unless the server already refuses
# clients without that password. redis-cli reads the password from the root-only secret file,
# never from its command line. A server that has another password already is reported, not
# changed: give the module that password, or clear it by hand.
#
# @param host The server to configure (this host's).
# @param port Its port.
# @param password requirepass; made on this host and kept in <secrets_dir>/redis when not given.
# @param secrets_dir Where the password is kept for redis-cli.
# @param config_file redis.conf (default: /etc/redis.conf on EL 8, /etc/redis/redis.conf elsewhere).
# @param manage_package Install Redis.
# @param package_name Its package.
# @param manage_service Keep Redis running (and restart it when redis.conf changes).
# @param service_name Its service.
# @param redis_cli The redis-cli program.
class st2::redis (
  Stdlib::Host $host = '127.0.0.1',
  Stdlib::Port $port = 6379,
  Optional[St2::Secret] $password = undef,
  Stdlib::Absolutepath $secrets_dir = '/etc/st2/secrets',
  Optional[Stdlib::Absolutepath] $config_file = undef,
  Boolean $manage_package = true,
  String[1] $package_name = $facts['os']['family'] ? {
    'Debian' => 'redis-server',
    default  => 'redis',
  },
  Boolean $manage_service = true,
  String[1] $service_name = $facts['os']['family'] ? {
    'Debian' => 'redis-server',
    default  => 'redis',
  },
  String[1] $redis_cli = 'redis-cli',
) {
  $conf = $config_file ? {
    undef   => ($facts['os']['family'] == 'RedHat' and versioncmp(String($facts['os']['release']['major']), '9') < 0) ? {
      true    => '/etc/redis.conf',
      default => '/etc/redis/redis.conf',
    },
    default => $config_file,
  }
  $secret = "${secrets_dir}/redis"
  st2::secret_file { $secret:
    value => $password,
  }

  if $manage_package {
    package { $package_name:
      ensure => installed,
      before => File_line['st2 redis requirepass'],
    }
  }

  file_line { 'st2 redis requirepass':
    path  => $conf,
    line  => Deferred('st2::interpolate', ['requirepass %{password}', { 'password' => st2::password($password, $secret) }]),
    match => '^\s*#?\s*requirepass\s',
  }

  $cli = "${redis_cli} -h ${host} -p ${port}"
  exec { 'st2 redis requirepass':
    command  => @("CMD"/L$),
      out=\$(printf 'CONFIG SET requirepass %s\\n' "\$(cat ${secret})" | ${cli} 2>&1); \
      [ "\$out" = OK ] || { echo "redis at ${host}:${port} did not take the password: \$out" >&2; exit 1; }
      |- CMD
    unless   => @("CHECK"/L$),
      REDISCLI_AUTH="\$(cat ${secret})" ${cli} --no-auth-warning PING 2>/dev/null | grep -qx PONG \
      && ${cli} PING 2>&1 | grep -q NOAUTH
      |- CHECK
    provider => shell,
    path     => ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'],
    require  => [St2::Secret_file[$secret], File_line['st2 redis requirepass']],
  }

  if $manage_service {
    service { $service_name:
      ensure    => running,
      enable    => true,
      subscribe => File_line['st2 redis requirepass'],
      before    => Exec['st2 redis requirepass'],
    }
  }
}
