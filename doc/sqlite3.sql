PRAGMA cache_size = -400000;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, tags TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO t SELECT i, 'user' || i, (i * 7919 % 10007) / 10007.0, printf('%s-%s', substr('abcdef', i % 6 + 1, 2), i % 97) FROM n;
CREATE INDEX t_score ON t(score);
SELECT count(*), sum(score), max(name), min(tags) FROM t WHERE score > 0.5;
SELECT tags, count(*) FROM t GROUP BY tags ORDER BY 2 DESC, 1 LIMIT 3;
