# @summary The appliance's RabbitMQ vhost, its user with every permission on it (and on nothing
#   else), and no guest user.
#
# Runs where `rabbitmqctl` reaches the broker node (the RabbitMQ host; the server itself is
# installed by the site, e.g. with the rabbitmq module's class). The native types of the rabbitmq
# module do the work; a changed password is set again.
#
# @param vhost The vhost, one per appliance.
# @param username The user ([messaging] url); not an administrator.
# @param password Its password; made on this host and kept in <secrets_dir>/rabbitmq when not given.
# @param delete_guest_user Remove RabbitMQ's guest user (guest/guest).
# @param secrets_dir Where a password made on this host is kept.
#
# @example On the broker host of a multi-host appliance (the same password as the st2 hosts)
#   class { 'st2::rabbitmq': password => Sensitive(lookup('st2_rabbitmq_password')) }
class st2::rabbitmq (
  Pattern[/\A[A-Za-z0-9_.\/-]+\z/] $vhost = 'st2',
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $username = 'st2',
  Optional[St2::Secret] $password = undef,
  Boolean $delete_guest_user = true,
  Stdlib::Absolutepath $secrets_dir = '/etc/st2/secrets',
) {
  if $delete_guest_user and $username == 'guest' {
    fail('st2::rabbitmq: username cannot be guest while delete_guest_user is true')
  }

  rabbitmq_vhost { $vhost:
    ensure => present,
  }
  rabbitmq_user { $username:
    ensure   => present,
    admin    => false,
    password => st2::password($password, "${secrets_dir}/rabbitmq"),
  }
  rabbitmq_user_permissions { "${username}@${vhost}":
    configure_permission => '.*',
    read_permission      => '.*',
    write_permission     => '.*',
    require              => [Rabbitmq_vhost[$vhost], Rabbitmq_user[$username]],
  }
  if $delete_guest_user {
    rabbitmq_user { 'guest':
      ensure => absent,
    }
  }
}
