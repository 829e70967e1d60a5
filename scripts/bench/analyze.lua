-- wrk script: POST a 1 KB prompt to /api/security/analyze.
local sentence = "Could you summarize the attached meeting notes and list the action items for each team? "
local text = string.rep(sentence, 12):sub(1, 1024)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input": "' .. text .. '"}'
