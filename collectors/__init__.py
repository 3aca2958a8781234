"""Collector agent shipped to agency servers; imports nothing from soc/ except soc.ecs."""
