# @summary The site's Python package mirror as the host's pip index (/etc/pip.conf), so that pip
#   (pack virtualenvs included) installs from it and nothing else.
#
# A served mirror (`pyrepo serve`, http(s)://host:port/simple/) becomes `index-url` (with
# `trusted-host` for plain http, which pip otherwise ignores); a mirror folder (file:///...) becomes
# `no-index` + `find-links`. Settings of the other kind are removed; give one of the two.
#
# @param index_url The mirror's PEP 503 index URL.
# @param find_links Or the mirror folder, as a file:/// URL.
# @param path The pip configuration file.
#
# @example On every host of the site
#   class { 'st2::pip': index_url => 'http://head1:8080/simple/' }
class st2::pip (
  Optional[Stdlib::HTTPUrl] $index_url = undef,
  Optional[Pattern[/\Afile:\/\/\/[^\s'"\\]+\z/]] $find_links = undef,
  Stdlib::Absolutepath $path = '/etc/pip.conf',
) {
  if ($index_url =~ Undef) == ($find_links =~ Undef) {
    fail('st2::pip: give either index_url (a served mirror) or find_links (a mirror folder, file:///...)')
  }
  $trusted_host = ($index_url and $index_url =~ /\Ahttp:\/\/([^\/:]+)/) ? {
    true    => $1,
    default => undef,
  }
  $values = {
    'index-url'    => $index_url,
    'trusted-host' => $trusted_host,
    'no-index'     => $find_links ? {
      undef   => undef,
      default => 'true',
    },
    'find-links'   => $find_links,
  }

  file { $path:
    ensure => file,
    mode   => '0644',
  }
  $values.each |String $key, Optional[String] $value| {
    $ensure = $value ? {
      undef   => absent,
      default => present,
    }
    ini_setting { "pip.conf [global] ${key}":
      ensure  => $ensure,
      path    => $path,
      section => 'global',
      setting => $key,
      value   => $value,
      require => File[$path],
    }
  }
}
