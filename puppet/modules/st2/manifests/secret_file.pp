# @summary One secret in a root-only file on the host: the one given, or one made there and kept.
#
# Commands that need a secret (redis-cli, mongosh) read it from this file, so that it never shows
# on a command line. When `value` is not given, the file's content is a Deferred `st2::secret`:
# made on the host on the first run, read back on the next ones.
#
# @param value The secret, if given; otherwise the host makes one.
# @param path The file (0600, root).
#
# @example
#   st2::secret_file { '/etc/st2/secrets/redis': value => $redis_password }
define st2::secret_file (
  Optional[St2::Secret] $value = undef,
  Stdlib::Absolutepath $path = $title,
) {
  ensure_resource('file', dirname($path), {
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0700',
  })
  file { $path:
    ensure    => file,
    owner     => 'root',
    group     => 'root',
    mode      => '0600',
    content   => st2::password($value, $path),
    show_diff => false,
  }
}
