WITH s AS (
  SELECT pid, ts, CAST(CAST((ts + INTERVAL (28800) SECOND) AS DATE) + to_days(CAST(-((isodow(CAST((ts + INTERVAL (28800) SECOND) AS DATE)) - 1 + 7) % 7) AS INTEGER)) AS DATE) AS cp, bd
  FROM (SELECT e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid, '' AS bd, 1 AS n FROM (SELECT coalesce(o.person_id, e.person_id) AS pid, e.event AS event, e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, e.properties AS properties, e.current_url AS current_url, e.referrer AS referrer, e.utm_source AS utm_source, e.channel AS channel, e.revenue AS revenue, e.content_id AS content_id FROM events e LEFT JOIN (SELECT o.old_person_id AS old_person_id, min(m.person_id) AS person_id FROM person_overrides o INNER JOIN (SELECT distinct_id, arg_max(person_id, version) AS person_id FROM person_distinct_ids WHERE project_id = 1 AND distinct_id IN (SELECT distinct_id FROM person_overrides WHERE project_id = 1) GROUP BY distinct_id) m ON m.distinct_id = o.distinct_id WHERE o.project_id = 1 GROUP BY o.old_person_id) o ON o.old_person_id = e.person_id WHERE e.project_id = 1 AND e.timestamp < TIMESTAMP '2024-01-28 16:00:00' AND e.event IN ('signup')) e WHERE TRUE) x
),
c AS (
  SELECT pid, cp0 AS cp, cbd FROM (
    SELECT pid, min(cp) AS cp0, arg_min(bd, ts) AS cbd
    FROM s GROUP BY pid
  ) f WHERE cp0 >= DATE '2024-01-01'
),
m AS (
  SELECT pid, bit_or((CAST(1 AS UBIGINT) << CAST((date_diff('day', DATE '2024-01-01', CAST(CAST((ts + INTERVAL (28800) SECOND) AS DATE) + to_days(CAST(-((isodow(CAST((ts + INTERVAL (28800) SECOND) AS DATE)) - 1 + 7) % 7) AS INTEGER)) AS DATE)) // 7) AS UBIGINT))) AS mask
  FROM (SELECT e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid, 1 AS n FROM (SELECT coalesce(o.person_id, e.person_id) AS pid, e.event AS event, e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, e.properties AS properties, e.current_url AS current_url, e.referrer AS referrer, e.utm_source AS utm_source, e.channel AS channel, e.revenue AS revenue, e.content_id AS content_id FROM events e LEFT JOIN (SELECT o.old_person_id AS old_person_id, min(m.person_id) AS person_id FROM person_overrides o INNER JOIN (SELECT distinct_id, arg_max(person_id, version) AS person_id FROM person_distinct_ids WHERE project_id = 1 AND distinct_id IN (SELECT distinct_id FROM person_overrides WHERE project_id = 1) GROUP BY distinct_id) m ON m.distinct_id = o.distinct_id WHERE o.project_id = 1 GROUP BY o.old_person_id) o ON o.old_person_id = e.person_id WHERE e.project_id = 1 AND e.timestamp >= TIMESTAMP '2023-12-31 16:00:00' AND e.timestamp < TIMESTAMP '2024-02-25 16:00:00' AND e.event IN ('login') AND (e.current_url IS NOT NULL)) e WHERE TRUE) y GROUP BY pid
),
x AS (
  SELECT c.cp AS cp, c.cbd AS cbd, (m.mask >> CAST((date_diff('day', DATE '2024-01-01', c.cp) // 7) + 1 AS UBIGINT)) AS v
  FROM c LEFT JOIN m ON m.pid = c.pid
)
SELECT cp, cbd, count(*) AS size, sum(CAST(((v >> CAST(0 AS UBIGINT)) & CAST(1 AS UBIGINT)) AS INTEGER)) AS k1, sum(CAST(((v >> CAST(1 AS UBIGINT)) & CAST(1 AS UBIGINT)) AS INTEGER)) AS k2, sum(CAST(((v >> CAST(2 AS UBIGINT)) & CAST(1 AS UBIGINT)) AS INTEGER)) AS k3, sum(CAST(((v >> CAST(3 AS UBIGINT)) & CAST(1 AS UBIGINT)) AS INTEGER)) AS k4 FROM x GROUP BY cp, cbd ORDER BY cp, cbd
