// Runs IAM simulations for tools/access_wiring.py through @cloud-copilot/iam-simulate, a full
// evaluation engine for identity and resource policies (condition operators, service
// principals, same- and cross-account rules, KMS key-policy trust).
//
// stdin: a JSON array of simulations (the library's `Simulation` shape).
// stdout: a JSON array, one entry per simulation, in order:
//   {result, errors, deciding: [{policy, sid, index, effect}]}
// where `deciding` lists the statements that decided the result: the matching Deny statements
// when denied explicitly, the matching Allow statements when allowed, none when nothing allowed.
import { runSimulation } from '@cloud-copilot/iam-simulate'

function statements(analysis, kind) {
  const found = []
  for (const [name, part] of [['identity', analysis?.identityAnalysis], ['resource', analysis?.resourceAnalysis]]) {
    for (const s of part?.[kind] ?? []) {
      found.push({ policy: name === 'identity' ? s.policyId : 'resource policy', sid: s.statement?.sid?.() ?? s.statement?.Sid ?? null, index: s.statement?.index?.() ?? null, effect: kind === 'denyStatements' ? 'Deny' : 'Allow' })
    }
  }
  return found
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const simulation of simulations) {
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    results.push({ result: 'Error', errors: response.errors, deciding: [] })
    continue
  }
  const analysis = response.resultType === 'single' ? response.result.analysis : response.results[0]?.analysis
  const result = response.overallResult
  const deciding = result === 'Allowed' ? statements(analysis, 'allowStatements') : result === 'ExplicitlyDenied' ? statements(analysis, 'denyStatements') : []
  results.push({ result, errors: null, deciding })
}
process.stdout.write(JSON.stringify(results))
