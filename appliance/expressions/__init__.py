"""Expressions shared by every place that renders templates: the Jinja filters StackStorm packs expect."""
