"""Pack management: what the `packs` pack's actions (packs/packs) and the API's /v1/packs routes do.

One job per module:
  source.py        a pack spec (`name_or_url[=ref]`) -> where the pack comes from
  git.py           cloning a git repository and resolving a ref as StackStorm does
  manifest.py      pack.yaml: read, ref, StackStorm/Python version checks, warnings, dependencies
  download.py      fetching a pack into a staging directory (clone or copy) and checking it
  transaction.py   replacing an installed pack (files, then virtualenv) so that a failure restores it
  virtualenvs.py   pack virtualenvs and their requirements (pip, offline mirrors, pip_opts)
  index.py         pack indexes (StackStorm's index.json): search, show, name -> repository
  registration.py  the API side: registering packs with rollback, unregistering a pack's content
  removal.py       deleting a pack's directory and virtualenv; the system packs nobody removes
  steps.py         each action of the packs pack, with StackStorm's parameters and results
  api_client.py    the actions' calls to the API, with the execution's token
"""

from __future__ import annotations

from appliance.models.schema import ValidationError


class PackError(ValidationError):
    """A pack cannot be downloaded, installed or removed; the message is one line for the user (the
    API's 400 faultstring, an action's error)."""
