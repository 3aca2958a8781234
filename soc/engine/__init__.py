"""The local OpenSearch node: resolve its jars with Maven, start, find and stop it."""

from soc.engine.launcher import Node, classpath, default_cache_dir, pom_path

__all__ = ["Node", "classpath", "default_cache_dir", "pom_path"]
