// ConnectionStats (the SDK's documented fields) from RTCPeerConnection.getStats().

/** `{timestamp, rtt, framesPerSecond, jitter, packetLossRatio, candidateType,
 *    availableOutgoingBitrate, connectionTimings}`; absent figures are left out. */
export async function connectionStats(pc, timings) {
  const report = await pc.getStats();
  const stats = { timestamp: Date.now() };
  let pair = null;
  let received = 0;
  let lost = 0;
  report.forEach((entry) => {
    if (entry.type === "transport" && entry.selectedCandidatePairId) {
      pair = report.get(entry.selectedCandidatePairId) || pair;
    }
    if (entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded" && !pair) {
      pair = entry;
    }
    if (entry.type === "inbound-rtp" && entry.kind === "video") {
      if (typeof entry.framesPerSecond === "number") stats.framesPerSecond = entry.framesPerSecond;
      if (typeof entry.jitter === "number") stats.jitter = entry.jitter;
      received += entry.packetsReceived || 0;
      lost += Math.max(entry.packetsLost || 0, 0);
    }
  });
  if (pair) {
    if (typeof pair.currentRoundTripTime === "number") stats.rtt = pair.currentRoundTripTime * 1000;
    if (typeof pair.availableOutgoingBitrate === "number") {
      stats.availableOutgoingBitrate = pair.availableOutgoingBitrate;
    }
    const local = report.get(pair.localCandidateId);
    if (local && local.candidateType) stats.candidateType = local.candidateType;
  }
  if (received + lost > 0) stats.packetLossRatio = lost / (received + lost);
  if (timings && Object.keys(timings).length) stats.connectionTimings = { ...timings };
  return stats;
}

const FORMATS = {
  rtt: (v) => `${v.toFixed(1)} ms`,
  framesPerSecond: (v) => v.toFixed(1),
  jitter: (v) => `${(v * 1000).toFixed(1)} ms`,
  packetLossRatio: (v) => `${(v * 100).toFixed(2)} %`,
  candidateType: (v) => String(v),
  availableOutgoingBitrate: (v) => `${(v / 1000).toFixed(0)} kbit/s`,
  timestamp: (v) => new Date(v).toISOString().slice(11, 23),
};

/** The figures as `[label, text]` rows, in a stable order. */
export function statsRows(stats) {
  const rows = [];
  for (const key of Object.keys(FORMATS)) {
    if (stats && stats[key] !== undefined) rows.push([key, FORMATS[key](stats[key])]);
  }
  const timings = stats && stats.connectionTimings;
  if (timings) {
    for (const [key, value] of Object.entries(timings)) {
      rows.push([`connectionTimings.${key}`, `${Number(value).toFixed(0)} ms`]);
    }
  }
  return rows;
}
