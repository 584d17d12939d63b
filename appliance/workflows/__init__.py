"""The Orquesta workflow language: spec, inspection, expressions (YAQL, Jinja, functions) and conductor."""
