# @summary A MongoDB connection string: mongodb://host:port[,host:port...]/?options.
#
# @param hosts The servers, 'host' or 'host:port'.
# @param port The port of a server given without one.
# @param options URL options (authSource, replicaSet); undef values are left out.
# @return The connection string.
function st2::mongodb_uri(
  Array[String[1], 1] $hosts,
  Stdlib::Port $port,
  Hash[String[1], Optional[String[1]]] $options = {},
) >> String {
  $members = $hosts.map |String $host| {
    $host ? {
      /:[0-9]+\z/ => $host,
      default     => "${host}:${port}",
    }
  }
  $query = $options.filter |$name, $value| { $value =~ NotUndef }.map |$name, $value| { "${name}=${value}" }
  $suffix = $query.empty ? {
    true    => '',
    default => "?${join($query, '&')}",
  }
  "mongodb://${join($members, ',')}/${suffix}"
}
