//! Soft deletes through psql, psycopg 3 and node-postgres.
