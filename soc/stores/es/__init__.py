"""The Elasticsearch store, by responsibility: connection, names, templates and ILM, the bulk
writer, the spool, delivery, queries, hunts, housekeeping, doctor checks and Kibana objects."""
