# @summary The datastore crypto key ([keyvalue] encryption_key_path), StackStorm's key file format.
#
# It encrypts secret datastore values and seals secret action parameters, so every host of one
# appliance needs the same file: give `st2::datastore_key` (the file's JSON) on each of them. Without
# it, the key is made on this host the first time (`st2::secret`) and kept; a key the appliance made
# at its first start is kept as well.
#
# @api private
class st2::datastore {
  assert_private()

  $key = $st2::datastore_key
  if $key =~ NotUndef {
    $parsed = parsejson($key.unwrap, {})
    $usable = $parsed =~ Struct[{
        'aesKeyString' => String[1],
        'hmacKey'      => Struct[{ 'hmacKeyString' => String[1], Optional['size'] => Integer }],
        Optional['mode'] => Enum['CBC'],
        Optional['size'] => Integer,
    }]
    unless $usable {
      fail('st2: datastore_key is not a StackStorm crypto key file (JSON with aesKeyString and hmacKey.hmacKeyString)')
    }
  }

  $folder = dirname($st2::datastore_key_path)
  if $folder != $st2::conf_dir {
    file { $folder:
      ensure => directory,
      owner  => $st2::user,
      mode   => '0700',
    }
  }
  $content = $key ? {
    undef   => Deferred('st2::secret', [$st2::datastore_key_path, 'crypto_key']),
    default => $key,
  }
  file { $st2::datastore_key_path:
    ensure    => file,
    owner     => $st2::user,
    mode      => '0600',
    content   => $content,
    show_diff => false,
  }
}
