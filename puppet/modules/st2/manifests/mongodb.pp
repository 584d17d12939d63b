# @summary The appliance's MongoDB user, with readWrite on its database, made with mongosh.
#
# MongoDB makes the database itself when the appliance first writes to it; this class makes the
# user that may do so (in that database, which st2.conf names as authSource). It runs mongosh against
# the servers (the replica set's primary when `replica_set` is given), and only when the user cannot
# log in with its password yet: a missing user is created, one with another password gets this one.
# Passwords reach mongosh through its environment (`process.env`), read from the root-only secret
# files, never on a command line. The MongoDB server itself is the site's (no EL or Debian
# repository carries one); with access control on, give an administrator allowed to create users.
#
# @param hosts The servers, 'host' or 'host:port'.
# @param port The port of a server given without one.
# @param replica_set The replica set's name.
# @param db_name The appliance's database.
# @param username The appliance's user.
# @param password Its password; made on this host and kept in <secrets_dir>/mongodb when not given.
# @param admin_username A user allowed to create users (userAdmin on the database, or userAdminAnyDatabase).
# @param admin_password Its password (kept in <secrets_dir>/mongodb_admin; never made up).
# @param admin_auth_db The database the administrator is defined in.
# @param secrets_dir Where the passwords are kept for mongosh.
# @param mongosh The mongosh program.
class st2::mongodb (
  Array[String[1], 1] $hosts = ['127.0.0.1'],
  Stdlib::Port $port = 27017,
  Optional[Pattern[/\A[A-Za-z0-9_.-]+\z/]] $replica_set = undef,
  Pattern[/\A[A-Za-z0-9_-]+\z/] $db_name = 'st2',
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $username = 'stackstorm',
  Optional[St2::Secret] $password = undef,
  Optional[Pattern[/\A[A-Za-z0-9_.-]+\z/]] $admin_username = undef,
  Optional[St2::Secret] $admin_password = undef,
  Pattern[/\A[A-Za-z0-9_-]+\z/] $admin_auth_db = 'admin',
  Stdlib::Absolutepath $secrets_dir = '/etc/st2/secrets',
  String[1] $mongosh = 'mongosh',
) {
  if $admin_username and $admin_password =~ Undef {
    fail('st2::mongodb: admin_password is required with admin_username (an existing MongoDB password cannot be made up)')
  }

  $secret = "${secrets_dir}/mongodb"
  st2::secret_file { $secret:
    value => $password,
  }
  if $admin_username {
    $admin_secret = "${secrets_dir}/mongodb_admin"
    st2::secret_file { $admin_secret:
      value => $admin_password,
    }
    $admin_env = "ST2_DB_ADMIN=${admin_username} ST2_DB_ADMIN_DB=${admin_auth_db} ST2_DB_ADMIN_PASSWORD=\"\$(cat ${admin_secret})\""
    $requires = [St2::Secret_file[$secret], St2::Secret_file[$admin_secret]]
  } else {
    $admin_env = ''
    $requires = [St2::Secret_file[$secret]]
  }

  $uri = st2::mongodb_uri($hosts, $port, { 'replicaSet' => $replica_set })
  $env = "ST2_DB_NAME=${db_name} ST2_DB_USER=${username} ST2_DB_PASSWORD=\"\$(cat ${secret})\""
  $shell = "${mongosh} --quiet --norc '${uri}'"

  # JavaScript for mongosh --eval: double quotes only (it sits in single quotes).
  $login = join([
      'const e = process.env;',
      'try { quit(db.getSiblingDB(e.ST2_DB_NAME).auth(e.ST2_DB_USER, e.ST2_DB_PASSWORD).ok ? 0 : 1); }',
      'catch (err) { quit(1); }',
  ], ' ')
  $make = join([
      'const e = process.env;',
      'if (e.ST2_DB_ADMIN) { db.getSiblingDB(e.ST2_DB_ADMIN_DB).auth(e.ST2_DB_ADMIN, e.ST2_DB_ADMIN_PASSWORD); }',
      'const d = db.getSiblingDB(e.ST2_DB_NAME);',
      'const roles = [{ role: "readWrite", db: e.ST2_DB_NAME }];',
      'if (d.getUser(e.ST2_DB_USER)) { d.updateUser(e.ST2_DB_USER, { pwd: e.ST2_DB_PASSWORD, roles: roles }); }',
      'else { d.createUser({ user: e.ST2_DB_USER, pwd: e.ST2_DB_PASSWORD, roles: roles }); }',
  ], ' ')

  exec { "st2 mongodb user ${username}@${db_name}":
    command  => "${env} ${admin_env} ${shell} --eval '${make}'",
    unless   => "${env} ${shell} --eval '${login}'",
    provider => shell,
    path     => ['/usr/local/bin', '/usr/bin', '/bin'],
    require  => $requires,
  }
}
