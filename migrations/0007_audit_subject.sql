-- PayScope 007: who asked. The subject of the token an answer (or a mapping profile change)
-- was made for, also inside the hashed `record` (`asked_by`); here for `GET /audit/answers`'
-- filter. Records written before have none.

SET ROLE payscope_owner;

ALTER TABLE payscope.answers ADD COLUMN IF NOT EXISTS subject text;
CREATE INDEX IF NOT EXISTS answers_by_subject ON payscope.answers (bank_id, subject, seq);

RESET ROLE;
