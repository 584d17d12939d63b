# @summary The secret given to a class, or else the one kept on the host in `$path`.
#
# A secret that is not given is never made up on the Puppet server: the result is then a Deferred
# `st2::secret` call, which runs on the host as the catalog is applied, reads `$path`, or makes a
# random secret there (0600, root) the first time, and keeps it.
#
# @param given The secret given as a class parameter, if any.
# @param path The file on the host that keeps a secret that was not given.
# @return The given secret, or a Deferred value resolved on the host.
function st2::password(
  Optional[Sensitive[String[1]]] $given,
  Stdlib::Absolutepath $path,
) >> Variant[Sensitive[String[1]], Deferred] {
  $given ? {
    undef   => Deferred('st2::secret', [$path]),
    default => $given,
  }
}
