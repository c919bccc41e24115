-- Run once by the postgres image, in database app, when the data directory
-- is created: the roles and the tables examples/rules.yaml protects.
CREATE ROLE app LOGIN PASSWORD 'app';          -- the application's role
CREATE ROLE softdel LOGIN PASSWORD 'softdel';  -- the proxy's own (SOFTDEL_JOURNAL_URL)

CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL,
                     is_active boolean NOT NULL DEFAULT true);
CREATE TABLE audit_logs (id serial PRIMARY KEY, order_id int, event text NOT NULL);
INSERT INTO orders (customer) VALUES ('alice'), ('bob'), ('carol');
INSERT INTO audit_logs (order_id, event) SELECT id, 'created' FROM orders;

GRANT SELECT, INSERT, UPDATE, DELETE ON orders, audit_logs TO app;
GRANT USAGE ON SEQUENCE orders_id_seq, audit_logs_id_seq TO app;
