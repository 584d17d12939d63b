"""Legacy import path: old packs import Action from st2actions.runners.pythonrunner."""
