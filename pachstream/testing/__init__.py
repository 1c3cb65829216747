"""Test harnesses, shared by the test suite, the benches and the soak.

- :mod:`pachstream.testing.embedded`: the embedded servers (SeaweedFS, Tansu, PostgreSQL) on
  free loopback ports in a temporary folder.
- :mod:`pachstream.testing.services`: one namespace's processors and a client, in-process.
- :mod:`pachstream.testing.kafka`: Apache Kafka from Maven Central jars, as a child JVM.

Nothing here is imported by the product's processes; each module is imported by name, so
loading one does not start Java or import the drivers of another.
"""
