"""Judicial safeguards: the assessment before an intrusive measure, the rank and threshold rules,
reasoned decisions and their anonymized public register, grounds for refusal within their time
limits, a provider's Annex III answers, the notification of the enforcing State, data protection
for data received, and the register of analytic tools."""
