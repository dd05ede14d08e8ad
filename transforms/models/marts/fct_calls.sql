-- grain: one row per call
-- The per-call fact table; all definitions live in intermediate.int_call_flags.

with

call_flags as (

    select * from intermediate.int_call_flags

)

select * from call_flags
