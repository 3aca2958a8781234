"""The `store` fixture (in tests/conftest.py) runs each test here once per available backend."""
