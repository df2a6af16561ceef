WITH s AS (
  SELECT pid, ts, addDays(toDate(ts, 'Asia/Shanghai'), toInt32(-((toDayOfWeek(toDate(ts, 'Asia/Shanghai')) - 1 + 7) % 7))) AS cp, bd
  FROM (SELECT e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid, '' AS bd, 1 AS n FROM (SELECT coalesce(o.person_id, e.person_id) AS pid, e.event AS event, e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, e.properties AS properties, e.current_url AS current_url, e.referrer AS referrer, e.utm_source AS utm_source, e.channel AS channel, e.revenue AS revenue, e.content_id AS content_id FROM events e LEFT JOIN (SELECT o.old_person_id AS old_person_id, min(m.person_id) AS person_id FROM person_overrides o INNER JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids WHERE project_id = 1 AND distinct_id IN (SELECT distinct_id FROM person_overrides WHERE project_id = 1) GROUP BY distinct_id) m ON m.distinct_id = o.distinct_id WHERE o.project_id = 1 GROUP BY o.old_person_id) o ON o.old_person_id = e.person_id WHERE e.project_id = 1 AND e.timestamp < toDateTime64('2024-01-28 16:00:00.000000', 6, 'UTC') AND e.event IN ('signup')) e WHERE TRUE) x
),
c AS (
  SELECT pid, cp0 AS cp, cbd FROM (
    SELECT pid, min(cp) AS cp0, argMin(bd, ts) AS cbd
    FROM s GROUP BY pid
  ) f WHERE cp0 >= toDate('2024-01-01')
),
m AS (
  SELECT pid, groupBitOr(bitShiftLeft(toUInt64(1), intDiv(dateDiff('day', toDate('2024-01-01'), addDays(toDate(ts, 'Asia/Shanghai'), toInt32(-((toDayOfWeek(toDate(ts, 'Asia/Shanghai')) - 1 + 7) % 7)))), 7))) AS mask
  FROM (SELECT e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid, 1 AS n FROM (SELECT coalesce(o.person_id, e.person_id) AS pid, e.event AS event, e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, e.properties AS properties, e.current_url AS current_url, e.referrer AS referrer, e.utm_source AS utm_source, e.channel AS channel, e.revenue AS revenue, e.content_id AS content_id FROM events e LEFT JOIN (SELECT o.old_person_id AS old_person_id, min(m.person_id) AS person_id FROM person_overrides o INNER JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids WHERE project_id = 1 AND distinct_id IN (SELECT distinct_id FROM person_overrides WHERE project_id = 1) GROUP BY distinct_id) m ON m.distinct_id = o.distinct_id WHERE o.project_id = 1 GROUP BY o.old_person_id) o ON o.old_person_id = e.person_id WHERE e.project_id = 1 AND e.timestamp >= toDateTime64('2023-12-31 16:00:00.000000', 6, 'UTC') AND e.timestamp < toDateTime64('2024-02-25 16:00:00.000000', 6, 'UTC') AND e.event IN ('login') AND (e.current_url IS NOT NULL)) e WHERE TRUE) y GROUP BY pid
),
x AS (
  SELECT c.cp AS cp, c.cbd AS cbd, bitShiftRight(m.mask, intDiv(dateDiff('day', toDate('2024-01-01'), c.cp), 7) + 1) AS v
  FROM c LEFT JOIN m ON m.pid = c.pid
)
SELECT cp, cbd, count(*) AS size, sum(CAST(bitAnd(bitShiftRight(v, 0), toUInt64(1)) AS INTEGER)) AS k1, sum(CAST(bitAnd(bitShiftRight(v, 1), toUInt64(1)) AS INTEGER)) AS k2, sum(CAST(bitAnd(bitShiftRight(v, 2), toUInt64(1)) AS INTEGER)) AS k3, sum(CAST(bitAnd(bitShiftRight(v, 3), toUInt64(1)) AS INTEGER)) AS k4 FROM x GROUP BY cp, cbd ORDER BY cp, cbd
