# @summary One service (systemd unit) per appliance service, each running unless switched off.
#
# `st2::services` ({ 'st2sensorcontainer' => false }) switches one off: it is stopped and disabled.
# A change of st2.conf, of the datastore key or of the package restarts them. When the package is
# installed or upgraded, its content (runners, packs, actions, rules...) is registered first
# (`st2ctl reload --register-all`), as StackStorm's installer does.
#
# @api private
class st2::services {
  assert_private()

  $names = [
    'st2actionrunner',
    'st2api',
    'st2auth',
    'st2garbagecollector',
    'st2notifier',
    'st2rulesengine',
    'st2scheduler',
    'st2sensorcontainer',
    'st2stream',
    'st2timersengine',
    'st2workflowengine',
  ]
  exec { 'st2ctl reload --register-all':
    command     => "st2ctl reload --register-all --config-file ${st2::conf_path}",
    path        => ['/opt/stackstorm/st2/bin', '/usr/local/bin', '/usr/bin', '/bin'],
    refreshonly => true,
    subscribe   => Class['st2::install'],
    require     => Class['st2::config'],
    logoutput   => on_failure,
  }

  $names.each |St2::Service $name| {
    $enabled = $st2::services[$name] != false
    $ensure = $enabled ? {
      true    => running,
      default => stopped,
    }
    service { $name:
      ensure  => $ensure,
      enable  => $enabled,
      tag     => 'st2::service',
      require => Exec['st2ctl reload --register-all'],
    }
  }
}
