-- grain: one row per (center_id, local_date) of a rebuilt call in analytics.fct_calls
-- The center-days whose daily, interval and agent rows an incremental refresh replaces. Run
-- twice: before fct_calls is updated (where the rebuilt calls were: an edit may move a call to
-- another center) and after (where they are now); fct_calls holds the one derivation of both.

select distinct center_id, local_date
from analytics.fct_calls
where call_id in (select call_id from intermediate.affected_calls where is_rebuilt)
