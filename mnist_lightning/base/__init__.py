"""The ground every part stands on: one-line user errors, the shared command wrapper, where configs and data live.

Imports no other part of the package."""
