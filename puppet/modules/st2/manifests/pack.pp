# @summary A pack: installed from a file:// URL with `st2 run packs.install` (pip limited to the
#   site mirror), and its config in <base_path>/configs/<pack>.yaml (0600).
#
# The install runs once: only while `st2 pack list` does not show the pack. pip gets the mirror
# through the action's `env` (PIP_NO_INDEX + PIP_FIND_LINKS, or PIP_INDEX_URL), as st2::pip gives it
# to the host. The st2 CLI logs in with the credentials in `cli_config` (st2ctl writes root's on the
# first start). A pack shipped with the appliance (core, clush, milkcheck) needs no `source`, only
# its `config`. The config is written first (registration checks it against the pack's schema) and is read
# when an action runs: changing it later needs no restart.
#
# @param source The pack: file:///path/to/pack (a folder or a git repository).
# @param config Its configuration (Sensitive when it holds secrets in clear).
# @param pack The pack's name (ref).
# @param configs_dir The pack configs folder.
# @param cli_config The st2 CLI configuration with credentials.
# @param pip_env The environment pip gets in the pack's virtualenv.
# @param owner The owner of the config (the services' user).
# @param timeout Seconds the install may take (the virtualenv is built from the mirror).
#
# @example
#   st2::pack { 'mypack':
#     source => 'file:///srv/packs/mypack',
#     config => { 'api_url' => 'https://inventory.example.org', 'token' => '{{ st2kv.system.token | decrypt_kv }}' },
#   }
define st2::pack (
  Optional[Pattern[/\Afile:\/\/\/[^\s'"\\]+\z/]] $source = undef,
  Optional[Variant[Hash, Sensitive[Hash]]] $config = undef,
  Pattern[/\A[a-z0-9_]+\z/] $pack = $title,
  Stdlib::Absolutepath $configs_dir = "${st2::base_path}/configs",
  Stdlib::Absolutepath $cli_config = $st2::cli_config,
  Hash[String[1], String[1]] $pip_env = $st2::pip_env,
  String[1] $owner = $st2::user,
  Integer[1] $timeout = 1800,
) {
  if $source {
    $listed = "st2 pack list -a ref -j | grep -q '\"ref\": \"${pack}\"'"
    exec { "st2 pack install ${pack}":
      command     => "st2 run packs.install packs=${shell_escape($source)} env=${shell_escape(to_json($pip_env))} && ${listed}",
      unless      => $listed,
      environment => ["ST2_CONFIG_FILE=${cli_config}", 'HOME=/root'],
      provider    => shell,
      path        => ['/opt/stackstorm/st2/bin', '/usr/local/bin', '/usr/bin', '/bin'],
      timeout     => $timeout,
      logoutput   => on_failure,
    }
  }

  if $config =~ NotUndef {
    ensure_resource('file', $configs_dir, { ensure => directory }) # its owner and mode are the package's
    $yaml = $config ? {
      Sensitive => Sensitive(to_yaml($config.unwrap)),
      default   => to_yaml($config),
    }
    file { "${configs_dir}/${pack}.yaml":
      ensure    => file,
      owner     => $owner,
      mode      => '0600',
      content   => $yaml,
      show_diff => false,
    }
    if $source {
      File["${configs_dir}/${pack}.yaml"] -> Exec["st2 pack install ${pack}"]
    }
  }
}
