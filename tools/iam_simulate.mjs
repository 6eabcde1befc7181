// Runs IAM simulations for tools/access_wiring.py through @cloud-copilot/iam-simulate, a full
// evaluation engine for identity and resource policies (condition operators, service
// principals, same- and cross-account rules, KMS key-policy trust).
//
// stdin: a JSON array of simulations (the library's `Simulation` shape).
// stdout: a JSON array, one entry per simulation, in order:
//   {result, errors, deciding: [{policy, sid, index, effect}]}
// where `deciding` lists the statements that decided the result: the matching Deny statements
// when denied explicitly, the matching Allow statements when allowed, none when nothing allowed.
//
// iam-simulate 0.1.173 validates each request's context keys against the action's documented
// keys and drops what it cannot match; it matches `prefix/Name` keys (aws:RequestTag/Name) but
// not KMS's `kms:EncryptionContext:<name>`, so a key policy conditioned on an encryption
// context would always look unmatched. `carryEncryptionContext` renames each such key, in the
// request and in every policy alike, to an `aws:RequestTag/...` key the validator accepts: the
// same condition operators then compare the same values.
import { runSimulation } from '@cloud-copilot/iam-simulate'

function carryEncryptionContext(simulation) {
  const context = simulation.request.contextVariables
  const keys = Object.keys(context).filter((key) => key.toLowerCase().startsWith('kms:encryptioncontext:'))
  if (keys.length === 0) return simulation
  let text = JSON.stringify(simulation)
  for (const key of keys) {
    const alias = `aws:RequestTag/kms-encryption-context-${key.slice('kms:EncryptionContext:'.length).replaceAll(':', '-')}`
    text = text.replace(new RegExp(`"${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`, 'gi'), JSON.stringify(alias))
  }
  return JSON.parse(text)
}
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
  const response = await runSimulation(carryEncryptionContext(simulation), {})
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
