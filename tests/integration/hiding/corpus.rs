//! The statements the two databases must answer alike once the same rows
//! are gone from one and hidden in the other.

/// A statement of the corpus.
pub enum Q {
    /// A read: run in the simple and the extended protocol.
    R(&'static str),
    /// A write: run once, in the simple protocol.
    W(&'static str),
    /// A statement with one int parameter, prepared (tokio-postgres).
    P(&'static str, i32),
}
use Q::{P, R, W};

pub const CORPUS: &[Q] = &[
    // Plain reads, names as applications write them.
    R("SELECT * FROM orders"),
    R("SELECT id FROM orders ORDER BY id"),
    R("select count(*) from ORDERS"),
    R("SELECT count(*) FROM public.orders"),
    R("SELECT count(*) FROM \"orders\""),
    R("SELECT o.* FROM orders o WHERE o.customer_id = 2"),
    R("SELECT orders.id, orders.note FROM orders WHERE orders.id < 8"),
    R("SELECT * FROM orders AS o (oid, cid) WHERE oid < 6"),
    R("SELECT * FROM orders WHERE id = 2"),
    R("SELECT * FROM orders WHERE id IN (1, 2, 3, 4, 5)"),
    R("SELECT * FROM ONLY orders WHERE id < 6"),
    R("SELECT * FROM items WHERE order_id = 5"),
    R("SELECT count(*) FROM items"),
    R("SELECT count(*), sum(qty) FROM items WHERE product_id = 3"),
    R("SELECT * FROM products ORDER BY price DESC"),
    R("SELECT name FROM products WHERE price > 3"),
    R("SELECT * FROM \"Notes\""),
    R("SELECT n.body FROM \"Notes\" n WHERE n.id > 2"),
    R("SELECT /* app: list */ id FROM orders -- trailing\n WHERE id > 25"),
    R("SELECT id FROM orders FOR UPDATE"),
    R("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id FOR UPDATE OF o"),
    R("SELECT id FROM orders ORDER BY id LIMIT 5 FOR SHARE"),
    R("SELECT id FROM orders ORDER BY id LIMIT 3 OFFSET 1"),
    R("SELECT id FROM orders ORDER BY id FETCH FIRST 4 ROWS ONLY"),
    R("SELECT row_to_json(o)->>'id' FROM orders o WHERE id < 7"),
    R("SELECT o::text FROM orders o WHERE id < 7"),
    R("SELECT exists(SELECT 1 FROM orders WHERE id = 5)"),
    R("SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM items)"),
    // Joins of every kind.
    R("SELECT c.name, o.id FROM customers c JOIN orders o ON o.customer_id = c.id"),
    R(
        "SELECT c.name, o.id FROM customers c INNER JOIN orders o ON o.customer_id = c.id WHERE c.id = 4",
    ),
    R(
        "SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
    ),
    R(
        "SELECT c.name, o.id FROM customers c LEFT OUTER JOIN orders o ON o.customer_id = c.id AND o.id < 12",
    ),
    R("SELECT o.id, c.name FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id"),
    R("SELECT o.id, i.id FROM orders o FULL JOIN items i ON i.order_id = o.id"),
    R(
        "SELECT o.id, i.id FROM orders o FULL OUTER JOIN items i ON i.order_id = o.id WHERE o.id IS NULL OR i.id IS NULL",
    ),
    R("SELECT count(*) FROM orders CROSS JOIN products"),
    R("SELECT count(*) FROM orders, products WHERE orders.id = products.id"),
    R("SELECT * FROM orders JOIN items USING (id)"),
    R("SELECT count(*) FROM orders NATURAL JOIN items"),
    R(
        "SELECT o.id, p.name FROM orders o JOIN items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id",
    ),
    R(
        "SELECT o.id, p.name FROM orders o LEFT JOIN items i ON i.order_id = o.id LEFT JOIN products p ON p.id = i.product_id",
    ),
    R(
        "SELECT p.name, count(i.id) FROM products p LEFT JOIN items i ON i.product_id = p.id GROUP BY p.name",
    ),
    R(
        "SELECT c.id, o.id, i.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id LEFT JOIN items i ON i.order_id = o.id",
    ),
    R("SELECT a.id, b.id FROM orders a JOIN orders b ON b.id = a.id + 1"),
    R("SELECT a.id, b.id FROM orders a LEFT JOIN orders b ON b.id = a.id + 1"),
    R("SELECT o.id, n.body FROM orders o LEFT JOIN \"Notes\" n ON n.order_id = o.id"),
    R(
        "SELECT * FROM customers c LEFT JOIN (orders o JOIN items i ON i.order_id = o.id) ON o.customer_id = c.id",
    ),
    R("SELECT count(*) FROM items i JOIN orders o ON o.id = i.order_id AND o.customer_id = 4"),
    // Subqueries, EXISTS, IN.
    R(
        "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.id IN (2, 5, 11))",
    ),
    R(
        "SELECT * FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
    ),
    R("SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders)"),
    R("SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders WHERE id < 12)"),
    R("SELECT id FROM products WHERE id = ANY (SELECT product_id FROM items)"),
    R("SELECT id FROM products WHERE id <> ALL (SELECT product_id FROM items WHERE qty > 2)"),
    R("SELECT c.name, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) FROM customers c"),
    R(
        "SELECT c.name, (SELECT max(o.id) FROM orders o WHERE o.customer_id = c.id) FROM customers c",
    ),
    R("SELECT * FROM (SELECT id, customer_id FROM orders) s WHERE s.id < 13"),
    R("SELECT * FROM (SELECT * FROM (SELECT * FROM items) a) b WHERE b.order_id = 2"),
    R("SELECT o.id FROM orders o WHERE o.id > (SELECT avg(id) FROM orders)"),
    R(
        "SELECT i.id FROM items i WHERE i.qty = (SELECT max(qty) FROM items i2 WHERE i2.order_id = i.order_id)",
    ),
    R(
        "SELECT count(*) FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE city = 'paris')",
    ),
    R(
        "SELECT id FROM orders WHERE EXISTS (SELECT 1 FROM items WHERE items.order_id = orders.id AND items.product_id = 3)",
    ),
    // CTEs.
    R("WITH o AS (SELECT * FROM orders) SELECT count(*) FROM o"),
    R(
        "WITH o AS (SELECT * FROM orders), i AS (SELECT * FROM items) SELECT o.id, count(i.id) FROM o LEFT JOIN i ON i.order_id = o.id GROUP BY o.id",
    ),
    R("WITH orders AS (SELECT * FROM orders WHERE id < 10) SELECT id FROM orders"),
    R(
        "WITH x AS (SELECT id FROM orders), orders AS (SELECT id FROM x WHERE id > 20) SELECT * FROM orders",
    ),
    R(
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 30) SELECT n FROM r WHERE n NOT IN (SELECT id FROM orders)",
    ),
    R(
        "WITH RECURSIVE chain AS (SELECT id FROM orders WHERE id = 1 UNION SELECT o.id FROM orders o JOIN chain ON o.id = chain.id + 1) SELECT * FROM chain",
    ),
    R("WITH m AS MATERIALIZED (SELECT * FROM items) SELECT count(*) FROM m"),
    R(
        "WITH c AS (SELECT customer_id, count(*) n FROM orders GROUP BY 1) SELECT * FROM c WHERE n > 4",
    ),
    // LATERAL.
    R(
        "SELECT c.id, l.id FROM customers c, LATERAL (SELECT id FROM orders o WHERE o.customer_id = c.id ORDER BY id LIMIT 1) l",
    ),
    R(
        "SELECT c.id, l.id FROM customers c LEFT JOIN LATERAL (SELECT id FROM orders o WHERE o.customer_id = c.id ORDER BY id DESC LIMIT 2) l ON true",
    ),
    R(
        "SELECT o.id, l.n FROM orders o CROSS JOIN LATERAL (SELECT count(*) n FROM items i WHERE i.order_id = o.id) l",
    ),
    R(
        "SELECT p.id, l.q FROM products p JOIN LATERAL (SELECT sum(qty) q FROM items WHERE product_id = p.id) l ON true",
    ),
    // Set operations.
    R("SELECT id FROM orders UNION SELECT order_id FROM items"),
    R("SELECT id FROM orders UNION ALL SELECT id FROM products"),
    R("SELECT id FROM orders INTERSECT SELECT order_id FROM items"),
    R("SELECT id FROM orders EXCEPT SELECT order_id FROM items"),
    R("SELECT generate_series(1, 30) EXCEPT SELECT id FROM orders"),
    R(
        "(SELECT id FROM orders ORDER BY id LIMIT 3) UNION (SELECT id FROM products ORDER BY id LIMIT 3)",
    ),
    R("SELECT count(*) FROM (SELECT id FROM orders UNION ALL SELECT id FROM items) u"),
    // Aggregates, windows, DISTINCT, GROUP BY / HAVING.
    R("SELECT customer_id, count(*) FROM orders GROUP BY customer_id"),
    R("SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 4"),
    R("SELECT order_id, sum(qty) FROM items GROUP BY order_id HAVING sum(qty) > 5"),
    R(
        "SELECT product_id, avg(qty)::numeric(6,2), min(qty), max(qty) FROM items GROUP BY product_id",
    ),
    R("SELECT count(DISTINCT customer_id) FROM orders"),
    R("SELECT DISTINCT customer_id FROM orders"),
    R("SELECT DISTINCT ON (customer_id) customer_id, id FROM orders ORDER BY customer_id, id DESC"),
    R("SELECT DISTINCT ON (order_id) order_id, id FROM items ORDER BY order_id, qty DESC, id"),
    R("SELECT id, row_number() OVER (ORDER BY id) FROM orders"),
    R("SELECT id, rank() OVER (PARTITION BY customer_id ORDER BY id) FROM orders"),
    R("SELECT id, sum(qty) OVER (PARTITION BY order_id) FROM items"),
    R("SELECT id, lag(id) OVER w, lead(id) OVER w FROM orders WINDOW w AS (ORDER BY id)"),
    R("SELECT customer_id, string_agg(id::text, ',' ORDER BY id) FROM orders GROUP BY customer_id"),
    R("SELECT array_agg(id ORDER BY id) FROM products"),
    R("SELECT json_agg(id ORDER BY id) FROM orders WHERE customer_id = 5"),
    R("SELECT count(*) FILTER (WHERE qty > 2), count(*) FROM items"),
    R(
        "SELECT c.city, count(o.id) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY ROLLUP (c.city)",
    ),
    R("SELECT customer_id, count(*) FROM orders GROUP BY GROUPING SETS ((customer_id), ())"),
    R("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY qty) FROM items"),
    R("SELECT bool_and(is_active), bool_or(is_active) FROM orders"),
    R("SELECT count(*) FROM items WHERE deleted_at IS NOT NULL"),
    R("SELECT count(*) FROM orders WHERE NOT is_active"),
    // Functions, casts, expressions over hidden rows.
    R("SELECT max(placed), min(placed) FROM orders"),
    R("SELECT sum(p.price * i.qty) FROM items i JOIN products p ON p.id = i.product_id"),
    R(
        "SELECT o.id, coalesce(sum(i.qty), 0) FROM orders o LEFT JOIN items i ON i.order_id = o.id GROUP BY o.id",
    ),
    R("SELECT CASE WHEN EXISTS (SELECT 1 FROM products WHERE id = 3) THEN 'yes' ELSE 'no' END"),
    R("SELECT id FROM orders WHERE id BETWEEN 1 AND 12 ORDER BY id DESC"),
    R("VALUES ((SELECT count(*) FROM orders))"),
    R("SELECT * FROM customers WHERE id = 1"),
    R("SELECT 1"),
    R("TABLE customers"),
    // COPY out.
    R("COPY orders TO STDOUT"),
    R("COPY orders (id, customer_id) TO STDOUT WITH (FORMAT csv)"),
    R("COPY (SELECT id FROM items WHERE order_id < 12 ORDER BY id) TO STDOUT"),
    R(
        "COPY (SELECT o.id, count(i.id) FROM orders o LEFT JOIN items i ON i.order_id = o.id GROUP BY o.id ORDER BY 1) TO STDOUT",
    ),
    // Prepared, with parameters.
    P("SELECT * FROM orders WHERE id = $1", 2),
    P("SELECT * FROM orders WHERE id = $1", 3),
    P("SELECT count(*) FROM items WHERE order_id = $1", 5),
    P("SELECT count(*) FROM items WHERE product_id = $1", 3),
    P(
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.id = $1",
        11,
    ),
    P(
        "SELECT id FROM orders WHERE customer_id = $1 ORDER BY id",
        4,
    ),
    P("SELECT exists(SELECT 1 FROM products WHERE id = $1)", 3),
    P("SELECT count(*) FROM \"Notes\" WHERE id < $1", 8),
    P(
        "SELECT o.id FROM orders o LEFT JOIN items i ON i.order_id = o.id AND i.qty > $1 WHERE i.id IS NULL",
        2,
    ),
    P(
        "WITH x AS (SELECT * FROM orders WHERE id > $1) SELECT count(*) FROM x",
        4,
    ),
    // Writes: the same rows change on both.
    W("UPDATE orders SET note = 'seen'"),
    R("SELECT id, note FROM orders WHERE note IS NOT NULL"),
    W("UPDATE orders SET note = 'two' WHERE id = 2"),
    W("UPDATE orders SET note = 'three' WHERE id = 3 RETURNING id, note"),
    W("UPDATE orders AS o SET note = 'c4' WHERE o.customer_id = 4 RETURNING o.id"),
    W("UPDATE items SET qty = qty + 1 WHERE order_id IN (2, 5, 6)"),
    W("UPDATE items i SET qty = 9 FROM orders o WHERE o.id = i.order_id AND o.customer_id = 6"),
    W(
        "UPDATE customers c SET city = 'rome' FROM orders o WHERE o.customer_id = c.id AND o.id = 11",
    ),
    W(
        "UPDATE customers SET city = 'lima' WHERE id IN (SELECT customer_id FROM orders WHERE id = 5)",
    ),
    W("UPDATE products SET price = price + 1 WHERE id = 3"),
    W(
        "UPDATE products SET price = price * 2 WHERE id IN (SELECT product_id FROM items WHERE qty = 9)",
    ),
    W(
        "WITH u AS (UPDATE orders SET note = 'cte' WHERE id < 6 RETURNING id) SELECT count(*) FROM u",
    ),
    W(
        "INSERT INTO orders (id, customer_id, placed) SELECT id + 100, customer_id, placed FROM orders WHERE id < 12",
    ),
    W(
        "INSERT INTO items (id, order_id, product_id, qty) SELECT id + 1000, order_id, product_id, qty FROM items WHERE order_id IN (1, 2, 3, 4, 5)",
    ),
    W("INSERT INTO products (id, name, price) VALUES (50, 'new', 5) RETURNING id"),
    W(
        "INSERT INTO \"Notes\" (id, order_id, body, live) SELECT id + 100, order_id, body, live FROM \"Notes\"",
    ),
    W("CREATE TABLE snapshot AS SELECT id, customer_id FROM orders"),
    R("SELECT count(*) FROM snapshot"),
    W("CREATE TEMP TABLE t AS SELECT * FROM items WHERE qty > 2"),
    R("SELECT count(*) FROM t"),
    W(
        "MERGE INTO customers c USING orders o ON o.id = c.id WHEN MATCHED THEN UPDATE SET name = 'merged'",
    ),
    R("SELECT id, name FROM customers"),
    W(
        "MERGE INTO orders o USING customers c ON o.id = c.id WHEN MATCHED THEN UPDATE SET note = 'merge target'",
    ),
    R("SELECT id, note FROM orders WHERE note = 'merge target'"),
    W("DELETE FROM items WHERE order_id = 5"),
    W("DELETE FROM items i USING orders o WHERE o.id = i.order_id AND o.id = 11"),
    W("DELETE FROM items WHERE qty = 9 RETURNING id"),
    W("UPDATE orders SET is_active = true WHERE id = 2"),
    R("SELECT count(*) FROM orders"),
    R("SELECT count(*) FROM items"),
    R("SELECT id, qty FROM items ORDER BY id"),
    R("SELECT id, price FROM products ORDER BY id"),
    R("SELECT id, city FROM customers ORDER BY id"),
    R("SELECT id, note FROM orders ORDER BY id"),
    R("SELECT count(*) FROM \"Notes\""),
    R("EXPLAIN (COSTS OFF) SELECT 1"),
    R("SELECT id FROM orders o WHERE o.id = 2 UNION SELECT id FROM orders WHERE id = 3"),
];
