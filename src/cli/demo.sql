-- The demo shop: the tables rules/example.yaml protects, with a little data.
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL,
                     total numeric NOT NULL, is_active boolean NOT NULL DEFAULT true);
CREATE TABLE payments (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders,
                       amount numeric NOT NULL, deleted_at timestamptz);
CREATE TABLE refunds (id serial PRIMARY KEY, payment_id int NOT NULL REFERENCES payments,
                      amount numeric NOT NULL);
CREATE TABLE audit_logs (id serial PRIMARY KEY, order_id int, event text NOT NULL);
INSERT INTO orders (customer, total)
    SELECT (ARRAY['alice', 'bob', 'carol'])[1 + g % 3], g * 10 FROM generate_series(1, 300) g;
INSERT INTO payments (order_id, amount) SELECT id, total FROM orders;
INSERT INTO refunds (payment_id, amount) SELECT id, amount / 2 FROM payments WHERE id % 10 = 0;
INSERT INTO audit_logs (order_id, event) SELECT id, 'created' FROM orders;
