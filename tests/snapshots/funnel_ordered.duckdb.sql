WITH
ev AS (
  SELECT pid, tus, uuid, s1, s2, s3, x1, bd FROM (SELECT e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid, epoch_us(e.ts) AS tus, CASE WHEN e.event = '$pageview' AND (position('/pricing' IN e.current_url) > 0) THEN 1 ELSE 0 END AS s1, CASE WHEN e.event = 'signup' THEN 1 ELSE 0 END AS s2, CASE WHEN e.event = 'purchase' AND (TRY_CAST(json_extract(e.properties, '/amount') AS DOUBLE) > 0.0) THEN 1 ELSE 0 END AS s3, CASE WHEN e.event = 'cancel' THEN 1 ELSE 0 END AS x1, coalesce(e.utm_source, '$none') AS bd FROM (SELECT coalesce(m.person_id, e.person_id) AS pid, e.event AS event, e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, e.properties AS properties, e.current_url AS current_url, e.referrer AS referrer, e.utm_source AS utm_source, e.channel AS channel, e.revenue AS revenue, e.content_id AS content_id FROM events e LEFT JOIN (SELECT distinct_id, arg_max(person_id, version) AS person_id FROM person_distinct_ids WHERE project_id = 1 GROUP BY distinct_id) m ON m.distinct_id = e.distinct_id WHERE e.project_id = 1 AND e.timestamp >= TIMESTAMP '2023-12-31 16:00:00' AND e.timestamp < TIMESTAMP '2024-02-07 16:00:00' AND e.event IN ('$pageview', 'cancel', 'purchase', 'signup') AND (json_extract_string(e.properties, '/country') = 'CN')) e WHERE TRUE) b WHERE s1 = 1 OR s2 = 1 OR s3 = 1 OR x1 = 1
),
en AS (
  SELECT pid, uuid, tus, bd FROM ev WHERE s1 = 1 AND tus >= 1704038400000000 AND tus < 1706716800000000
),
pb AS (
  SELECT pid, dense_rank() OVER (ORDER BY pid) AS pk, lo, hi FROM (SELECT pid, min(tus) AS lo, max(tus) + 604800000000 AS hi FROM en GROUP BY pid) g
),
st2 AS (
  SELECT pb.pk AS pk, ev.tus AS tus FROM ev INNER JOIN pb ON pb.pid = ev.pid WHERE ev.s2 = 1 AND ev.tus > pb.lo AND ev.tus <= pb.hi
),
st3 AS (
  SELECT pb.pk AS pk, ev.tus AS tus FROM ev INNER JOIN pb ON pb.pid = ev.pid WHERE ev.s3 = 1 AND ev.tus > pb.lo AND ev.tus <= pb.hi
),
xe1 AS (
  SELECT pb.pk AS pk, ev.tus AS tus FROM ev INNER JOIN pb ON pb.pid = ev.pid WHERE ev.x1 = 1 AND ev.tus > pb.lo AND ev.tus <= pb.hi
),
chain AS (
  SELECT a.pid AS pid, a.uuid AS u1, a.tus AS t1, a.bd AS bd, e2.tus AS t2, e3.tus AS t3, x1.tus AS xn1 FROM (SELECT en.pid AS pid, en.uuid AS uuid, en.tus AS tus, en.bd AS bd, pb.pk AS pk FROM en INNER JOIN pb ON pb.pid = en.pid) a ASOF LEFT JOIN st2 e2 ON e2.pk = a.pk AND e2.tus > a.tus ASOF LEFT JOIN st3 e3 ON e3.pk = a.pk AND e3.tus > e2.tus ASOF LEFT JOIN xe1 x1 ON x1.pk = a.pk AND x1.tus > a.tus
),
att AS (
  SELECT pid, u1, t1, t2, t3, bd, reached, CASE WHEN (reached >= 2 AND xn1 < t2) THEN 1 ELSE 0 END AS xcl FROM (SELECT pid, u1, t1, t2, t3, bd, xn1, CASE WHEN t2 <= t1 + 604800000000 AND t3 <= t1 + 604800000000 THEN 3 WHEN t2 <= t1 + 604800000000 THEN 2 ELSE 1 END AS reached FROM chain) c
),
best AS (
  SELECT pid, u1, t1, reached, t2, t3, bd FROM (SELECT pid, u1, t1, reached, t2, t3, bd, row_number() OVER (PARTITION BY pid ORDER BY reached DESC, t1, u1) AS rk, max(xcl) OVER (PARTITION BY pid) AS px FROM att) r WHERE rk = 1 AND px = 0
),
fp AS (
  SELECT pid, reached, t1, t2, t3, CASE WHEN brank <= 10 THEN bd ELSE '$other' END AS bv FROM (SELECT pid, reached, t1, t2, t3, bd, dense_rank() OVER (ORDER BY bsize DESC, bd) AS brank FROM (SELECT pid, reached, t1, t2, t3, bd, count(*) OVER (PARTITION BY bd) AS bsize FROM best) s) r
)
SELECT * FROM (SELECT 0 AS lvl, '' AS bv, sum(CASE WHEN reached >= 1 THEN 1 ELSE 0 END) AS n1, sum(CASE WHEN reached >= 2 THEN 1 ELSE 0 END) AS n2, sum(CASE WHEN reached >= 3 THEN 1 ELSE 0 END) AS n3, avg(CASE WHEN reached >= 2 THEN (t2 - t1) / 1e6 END) AS avg2, quantile_cont(CASE WHEN reached >= 2 THEN (t2 - t1) / 1e6 END, 0.5) AS med2, avg(CASE WHEN reached >= 3 THEN (t3 - t2) / 1e6 END) AS avg3, quantile_cont(CASE WHEN reached >= 3 THEN (t3 - t2) / 1e6 END, 0.5) AS med3 FROM fp
UNION ALL SELECT 1 AS lvl, bv, sum(CASE WHEN reached >= 1 THEN 1 ELSE 0 END) AS n1, sum(CASE WHEN reached >= 2 THEN 1 ELSE 0 END) AS n2, sum(CASE WHEN reached >= 3 THEN 1 ELSE 0 END) AS n3, avg(CASE WHEN reached >= 2 THEN (t2 - t1) / 1e6 END) AS avg2, quantile_cont(CASE WHEN reached >= 2 THEN (t2 - t1) / 1e6 END, 0.5) AS med2, avg(CASE WHEN reached >= 3 THEN (t3 - t2) / 1e6 END) AS avg3, quantile_cont(CASE WHEN reached >= 3 THEN (t3 - t2) / 1e6 END, 0.5) AS med3 FROM fp GROUP BY bv) u
