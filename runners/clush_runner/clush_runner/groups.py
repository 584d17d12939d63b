"""Which groups.conf the runners read: a site's CLUSTERSHELL_CFGDIR alone when it has one.

ClusterShell merges every groups.conf it finds (/etc/clustershell, ~/.local/etc/clustershell,
the virtualenv's etc/clustershell, $XDG_CONFIG_HOME/clustershell, then $CLUSTERSHELL_CFGDIR),
and two group sources of one name are an error. The ClusterShell wheel installs a groups.conf
with a `local` source into the virtualenv, so a site's CLUSTERSHELL_CFGDIR defining `local` too
(as ClusterShell's own sample does) made every @group fail with "name collision". When
CLUSTERSHELL_CFGDIR holds a groups.conf, that file is the site's whole group configuration;
otherwise ClusterShell's own search applies.
"""

from __future__ import annotations

import os

from ClusterShell import NodeSet


def site_groups_conf() -> str:
    """$CLUSTERSHELL_CFGDIR/groups.conf when it exists, else ""."""
    cfgdir = os.environ.get("CLUSTERSHELL_CFGDIR", "")
    path = os.path.join(cfgdir, "groups.conf") if cfgdir else ""
    return path if path and os.path.isfile(path) else ""


def use_site_groups() -> None:
    """Resolve @groups through the site's groups.conf alone when there is one (see the module's docstring)."""
    path = site_groups_conf()
    if path:
        NodeSet.set_std_group_resolver_config([path])
