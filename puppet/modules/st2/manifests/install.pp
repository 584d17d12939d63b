# @summary The appliance package (the RPM: virtualenv, system packs, units, users), when managed,
#   and the configuration folder.
#
# @api private
class st2::install {
  assert_private()

  if $st2::manage_package {
    package { $st2::package_name:
      ensure => $st2::package_ensure,
      before => File[$st2::conf_dir],
    }
  }
  file { $st2::conf_dir:
    ensure => directory,
  }
}
