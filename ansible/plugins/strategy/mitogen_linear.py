"""Mitogen's linear strategy (the `mitogen` package in the venv), ansible.cfg's default strategy.

ansible.cfg names this directory in strategy_plugins, so no path into the venv is written anywhere;
ANSIBLE_STRATEGY=linear runs the same plays with Ansible's own strategy."""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
