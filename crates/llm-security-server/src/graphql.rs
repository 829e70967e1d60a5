//! GraphQL: `analyzeInput(input)` and `validateOutput(output)`, with a GraphiQL page.

use async_graphql::http::GraphiQLSource;
use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, SimpleObject};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use llm_security::{Analysis, SecurityEngine};

use crate::AppState;
use crate::metrics::Metrics;

/// The schema type.
pub(crate) type Schema = async_graphql::Schema<Query, EmptyMutation, EmptySubscription>;

/// A finding.
#[derive(SimpleObject)]
pub(crate) struct GqlThreat {
    kind: String,
    severity: String,
    confidence: f32,
    rule: String,
    message: String,
    evidence: String,
    /// Byte spans as `[start, end]` pairs.
    spans: Vec<Vec<u32>>,
}

/// A verdict.
#[derive(SimpleObject)]
pub(crate) struct GqlAnalysis {
    is_secure: bool,
    confidence: f32,
    score: f32,
    /// Milliseconds.
    analysis_time: f64,
    threats: Vec<GqlThreat>,
    redacted: Option<String>,
}

impl From<&Analysis> for GqlAnalysis {
    fn from(a: &Analysis) -> Self {
        Self {
            is_secure: a.is_secure(),
            confidence: a.confidence(),
            score: a.score(),
            analysis_time: a.analysis_time().as_secs_f64() * 1000.0,
            threats: a
                .threats()
                .iter()
                .map(|t| GqlThreat {
                    kind: t.kind.to_string(),
                    severity: t.severity.to_string(),
                    confidence: t.confidence,
                    rule: t.rule.clone(),
                    message: t.message.clone(),
                    evidence: t.evidence.clone(),
                    spans: t
                        .spans
                        .iter()
                        .map(|s| vec![s.start as u32, s.end as u32])
                        .collect(),
                })
                .collect(),
            redacted: a.redacted().map(str::to_owned),
        }
    }
}

/// The query root.
pub(crate) struct Query;

#[Object]
impl Query {
    /// Analyzes text going into a model. With `document: true` the input is retrieved content
    /// (a document, web page, e-mail or tool result) and the document rules run too.
    async fn analyze_input(
        &self,
        ctx: &Context<'_>,
        input: String,
        document: Option<bool>,
    ) -> async_graphql::Result<GqlAnalysis> {
        let engine = ctx.data::<SecurityEngine>()?;
        let analysis = if document.unwrap_or(false) {
            engine
                .analyze_document_input_with(&input, &Default::default())
                .await
        } else {
            engine.analyze_input(&input).await
        }
        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
        ctx.data::<Metrics>()?.observe("graphql_analyze", &analysis);
        Ok(GqlAnalysis::from(&analysis))
    }

    /// Validates text a model produced.
    async fn validate_output(
        &self,
        ctx: &Context<'_>,
        output: String,
    ) -> async_graphql::Result<GqlAnalysis> {
        let engine = ctx.data::<SecurityEngine>()?;
        let analysis = engine
            .validate_output(&output)
            .await
            .map_err(|e| async_graphql::Error::new(e.to_string()))?;
        ctx.data::<Metrics>()?
            .observe("graphql_validate", &analysis);
        Ok(GqlAnalysis::from(&analysis))
    }
}

pub(crate) fn schema(engine: SecurityEngine, metrics: Metrics) -> Schema {
    async_graphql::Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(engine)
        .data(metrics)
        .limit_depth(8)
        .limit_complexity(200)
        .finish()
}

pub(crate) async fn handler(
    State(state): State<AppState>,
    request: GraphQLRequest,
) -> GraphQLResponse {
    state
        .inner
        .schema
        .execute(request.into_inner())
        .await
        .into()
}

pub(crate) async fn graphiql() -> Response {
    Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response()
}
