-- SPDX-License-Identifier: MIT
-- Domain story tables: the words benchmark families put on a graph's nodes.
-- Each domain names its unit (the thing a probability is about) and a pool
-- of binary variables. `rank` is the commonsense causal order: a variable of
-- lower rank plausibly causes one of higher rank, never the reverse.
-- Families assign variables to nodes in rank order (or reversed, for the
-- anti-commonsense perturbation), so every story reads plausibly.
--
-- A variable: name (noun phrase, for "X affects Y"), yes / no (clauses in the
-- third person singular, completing "a <unit> ..."). Add a domain by adding a
-- table here; a family needs at least 8 variables per domain.
local M = {}

M.medical = {
  unit = "patient", units = "patients",
  vars = {
    { rank = 1, name = "a genetic predisposition", yes = "has a genetic predisposition", no = "has no genetic predisposition" },
    { rank = 1, name = "old age", yes = "is over 65", no = "is 65 or younger" },
    { rank = 2, name = "smoking", yes = "smokes", no = "does not smoke" },
    { rank = 2, name = "regular exercise", yes = "exercises regularly", no = "does not exercise regularly" },
    { rank = 3, name = "taking the new drug", yes = "takes the new drug", no = "does not take the new drug" },
    { rank = 3, name = "a high-salt diet", yes = "eats a high-salt diet", no = "eats a low-salt diet" },
    { rank = 4, name = "high blood pressure", yes = "has high blood pressure", no = "has normal blood pressure" },
    { rank = 4, name = "high cholesterol", yes = "has high cholesterol", no = "has normal cholesterol" },
    { rank = 5, name = "chronic inflammation", yes = "has chronic inflammation", no = "has no chronic inflammation" },
    { rank = 6, name = "heart disease", yes = "develops heart disease", no = "does not develop heart disease" },
    { rank = 7, name = "hospitalization", yes = "is hospitalized", no = "is not hospitalized" },
    { rank = 8, name = "full recovery", yes = "recovers fully", no = "does not recover fully" },
  },
}

M.economic = {
  unit = "company", units = "companies",
  vars = {
    { rank = 1, name = "a large founding capital", yes = "started with a large capital", no = "started with a small capital" },
    { rank = 1, name = "an experienced founder", yes = "has an experienced founder", no = "has a first-time founder" },
    { rank = 2, name = "low interest rates", yes = "borrows at low interest rates", no = "borrows at high interest rates" },
    { rank = 3, name = "investment in research", yes = "invests in research", no = "does not invest in research" },
    { rank = 3, name = "an advertising campaign", yes = "runs an advertising campaign", no = "runs no advertising campaign" },
    { rank = 4, name = "a new product launch", yes = "launches a new product", no = "launches no new product" },
    { rank = 4, name = "hiring more staff", yes = "hires more staff", no = "does not hire more staff" },
    { rank = 5, name = "rising sales", yes = "sees rising sales", no = "does not see rising sales" },
    { rank = 6, name = "higher profits", yes = "makes higher profits", no = "does not make higher profits" },
    { rank = 7, name = "a rising share price", yes = "sees its share price rise", no = "does not see its share price rise" },
    { rank = 8, name = "expansion abroad", yes = "expands abroad", no = "does not expand abroad" },
  },
}

M.social = {
  unit = "person", units = "people",
  vars = {
    { rank = 1, name = "wealthy parents", yes = "has wealthy parents", no = "does not have wealthy parents" },
    { rank = 1, name = "growing up in a city", yes = "grew up in a city", no = "grew up in the countryside" },
    { rank = 2, name = "a university degree", yes = "has a university degree", no = "has no university degree" },
    { rank = 3, name = "a large social network", yes = "has a large social network", no = "has a small social network" },
    { rank = 3, name = "volunteering", yes = "volunteers", no = "does not volunteer" },
    { rank = 4, name = "a well-paid job", yes = "has a well-paid job", no = "does not have a well-paid job" },
    { rank = 5, name = "home ownership", yes = "owns a home", no = "does not own a home" },
    { rank = 5, name = "voting in elections", yes = "votes in elections", no = "does not vote in elections" },
    { rank = 6, name = "trust in institutions", yes = "trusts public institutions", no = "does not trust public institutions" },
    { rank = 7, name = "life satisfaction", yes = "is satisfied with life", no = "is not satisfied with life" },
  },
}

M.scientific = {
  unit = "plant", units = "plants",
  vars = {
    { rank = 1, name = "a drought-resistant strain", yes = "is of a drought-resistant strain", no = "is of an ordinary strain" },
    { rank = 1, name = "sunny placement", yes = "is placed in the sun", no = "is placed in the shade" },
    { rank = 2, name = "fertilizer", yes = "receives fertilizer", no = "receives no fertilizer" },
    { rank = 2, name = "daily watering", yes = "is watered daily", no = "is not watered daily" },
    { rank = 3, name = "high soil nitrogen", yes = "grows in soil high in nitrogen", no = "grows in soil low in nitrogen" },
    { rank = 4, name = "fast root growth", yes = "grows roots fast", no = "grows roots slowly" },
    { rank = 4, name = "a fungal infection", yes = "catches a fungal infection", no = "does not catch a fungal infection" },
    { rank = 5, name = "tall growth", yes = "grows tall", no = "stays short" },
    { rank = 6, name = "flowering", yes = "flowers", no = "does not flower" },
    { rank = 7, name = "a large harvest", yes = "yields a large harvest", no = "yields a small harvest" },
  },
}

M.climate = {
  unit = "region", units = "regions",
  vars = {
    { rank = 1, name = "a coastal location", yes = "is on the coast", no = "is inland" },
    { rank = 1, name = "high altitude", yes = "lies at high altitude", no = "lies at low altitude" },
    { rank = 2, name = "heavy industry", yes = "has heavy industry", no = "has no heavy industry" },
    { rank = 3, name = "high emissions", yes = "has high emissions", no = "has low emissions" },
    { rank = 3, name = "deforestation", yes = "suffers deforestation", no = "keeps its forests" },
    { rank = 4, name = "warmer summers", yes = "has warmer summers", no = "does not have warmer summers" },
    { rank = 5, name = "drought", yes = "suffers a drought", no = "does not suffer a drought" },
    { rank = 5, name = "heavy storms", yes = "is hit by heavy storms", no = "is not hit by heavy storms" },
    { rank = 6, name = "crop failure", yes = "sees its crops fail", no = "does not see its crops fail" },
    { rank = 7, name = "migration away", yes = "sees people migrate away", no = "does not see people migrate away" },
  },
}

M.education = {
  unit = "student", units = "students",
  vars = {
    { rank = 1, name = "educated parents", yes = "has parents with degrees", no = "has parents without degrees" },
    { rank = 1, name = "a quiet home", yes = "has a quiet place to study at home", no = "has no quiet place to study at home" },
    { rank = 2, name = "early reading", yes = "learned to read early", no = "learned to read late" },
    { rank = 3, name = "private tutoring", yes = "gets private tutoring", no = "gets no private tutoring" },
    { rank = 3, name = "a small class", yes = "is in a small class", no = "is in a large class" },
    { rank = 4, name = "doing homework", yes = "does the homework", no = "skips the homework" },
    { rank = 4, name = "good sleep", yes = "sleeps well", no = "sleeps badly" },
    { rank = 5, name = "high test scores", yes = "scores high on tests", no = "scores low on tests" },
    { rank = 6, name = "a scholarship", yes = "wins a scholarship", no = "does not win a scholarship" },
    { rank = 7, name = "graduation", yes = "graduates", no = "does not graduate" },
  },
}

M.engineering = {
  unit = "machine", units = "machines",
  vars = {
    { rank = 1, name = "a premium design", yes = "has a premium design", no = "has a budget design" },
    { rank = 1, name = "a humid site", yes = "runs at a humid site", no = "runs at a dry site" },
    { rank = 2, name = "regular maintenance", yes = "is maintained regularly", no = "is not maintained regularly" },
    { rank = 2, name = "heavy load", yes = "runs under heavy load", no = "runs under light load" },
    { rank = 3, name = "overheating", yes = "overheats", no = "does not overheat" },
    { rank = 3, name = "corrosion", yes = "corrodes", no = "does not corrode" },
    { rank = 4, name = "bearing wear", yes = "has worn bearings", no = "has sound bearings" },
    { rank = 5, name = "vibration", yes = "vibrates strongly", no = "runs smoothly" },
    { rank = 6, name = "a breakdown", yes = "breaks down", no = "does not break down" },
    { rank = 7, name = "a production stop", yes = "causes a production stop", no = "causes no production stop" },
  },
}

M.ORDER = { "medical", "economic", "social", "scientific", "climate", "education", "engineering" }

return M
